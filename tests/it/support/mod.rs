//! The shared test harness: a temp directory with a config file, the fake ARM, the SMTP sink,
//! a fake `az` on `PATH`, and a runner for the real `pirwatch` binary.

#![allow(dead_code)]

pub mod arm;
pub mod browser;
pub mod smtp;
pub mod token;

use std::path::{Path, PathBuf};

use smtp::Security;

/// The token the fake `az` hands out and the fake ARM expects.
pub const TOKEN: &str = "test-token-7f3c9e";
pub const TENANT_ID: &str = "72f988bf-86f1-41af-91ab-2d7cd011db47";

/// What goes into a test config.
#[derive(Debug, Clone)]
pub struct Setup {
    pub arm_base: String,
    pub smtp_port: u16,
    pub security: Security,
    pub auth: Option<(String, String)>,
    pub subscriptions: Vec<String>,
    pub tenant_events: bool,
    pub timezone: String,
    pub extra: String,
    /// The `[tenants.credential]` body.
    pub credential: String,
    /// Working days and hours (default: always, so tests do not depend on the time of day).
    pub working_time: String,
    /// Lines added to `[smtp]` (they override its defaults: `timeout = "10s"`).
    pub smtp_extra: String,
}

impl Setup {
    pub fn new(arm_base: &str, smtp_port: u16) -> Self {
        Self {
            arm_base: arm_base.to_owned(),
            smtp_port,
            security: Security::Plain,
            auth: None,
            subscriptions: vec!["sub-a".into()],
            tenant_events: false,
            timezone: "Europe/Amsterdam".into(),
            extra: String::new(),
            credential: "kind = \"azure_cli\"\n".into(),
            working_time:
                "working_days = [\"mon\", \"tue\", \"wed\", \"thu\", \"fri\", \"sat\", \"sun\"]\n\
                           working_hours = \"00:00-24:00\"\n"
                    .into(),
            smtp_extra: "timeout = \"10s\"\n".into(),
        }
    }
}

/// A test's working directory: config, secrets, fake `az`, state.
pub struct Env {
    pub dir: tempfile::TempDir,
}

impl Env {
    pub fn new() -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        let env = Self { dir };
        env.install_fake_az(TOKEN);
        env
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    pub fn config_path(&self) -> PathBuf {
        self.path().join("config.toml")
    }

    pub fn state_path(&self) -> PathBuf {
        self.path().join("state/pirwatch.db")
    }

    /// How often the fake `az` was run.
    pub fn az_calls(&self) -> usize {
        std::fs::read_to_string(self.path().join("az-calls"))
            .map(|s| s.lines().count())
            .unwrap_or(0)
    }

    /// A fake Azure CLI printing the JSON `az account get-access-token` prints.
    pub fn install_fake_az(&self, token: &str) {
        let bin = self.path().join("bin");
        std::fs::create_dir_all(&bin).expect("bin dir");
        // A tenant id containing "bad-tenant" is refused, as Entra ID refuses an unknown one.
        let script = format!(
            "#!/bin/sh\necho \"$*\" >> '{log}'\ncase \"$*\" in *bad-tenant*) \
             echo 'ERROR: AADSTS90002: Tenant not found.' >&2; exit 1;; esac\n\
             exp=$(( $(date +%s) + 3600 ))\n\
             printf '{{\"accessToken\":\"{token}\",\"expiresOn\":\"2030-01-01 00:00:00.000000\",\
             \"expires_on\":%s,\"subscription\":\"sub-a\",\"tenant\":\"{TENANT_ID}\",\
             \"tokenType\":\"Bearer\"}}\\n' \"$exp\"\n",
            log = self.path().join("az-calls").display()
        );
        let az = bin.join("az");
        std::fs::write(&az, script).expect("write az");
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&az, std::fs::Permissions::from_mode(0o755)).expect("chmod az");
    }

    /// Writes config.toml (and the SMTP password file) for `s`.
    pub fn write_config(&self, s: &Setup) {
        let security = match s.security {
            Security::Plain => "none",
            Security::Starttls => "starttls",
            Security::Smtps => "tls",
        };
        let mut smtp = format!(
            "[smtp]\nhost = \"localhost\"\nport = {}\nsecurity = \"{security}\"\n\
             from = \"pirwatch <pirwatch@example.com>\"\n{}",
            s.smtp_port, s.smtp_extra
        );
        if s.security != Security::Plain {
            smtp += "ca_file = \"ca.pem\"\n";
        }
        if let Some((user, pass)) = &s.auth {
            write_secret(&self.path().join("smtp-password"), &format!("{pass}\n"));
            smtp += &format!("username = \"{user}\"\npassword_file = \"smtp-password\"\n");
        }
        let subs: Vec<String> = s.subscriptions.iter().map(|x| format!("\"{x}\"")).collect();
        let text = format!(
            "[state]\npath = \"{state}\"\n\n[poll]\ninterval = \"5m\"\nlookback = \"30d\"\n\n{smtp}\n\
             {extra}\n\
             [[tenants]]\nname = \"contoso\"\ntenant_id = \"{TENANT_ID}\"\ncloud = \"public\"\n\
             arm_endpoint = \"{arm}\"\nsubscriptions = [{subs}]\ntenant_events = {te}\n\
             recipients = [\"Incident Team <incidents@contoso.example>\", \"oncall@contoso.example\"]\n\
             timezone = \"{tz}\"\n{hours}[tenants.credential]\n{cred}",
            state = self.state_path().display(),
            extra = s.extra,
            arm = s.arm_base,
            subs = subs.join(", "),
            te = s.tenant_events,
            tz = s.timezone,
            cred = s.credential,
            hours = s.working_time,
        );
        std::fs::write(self.config_path(), text).expect("write config");
    }

    /// Runs the real binary with this env's config and fake `az`.
    pub async fn pirwatch(&self, args: &[&str]) -> Run {
        // Every run has a deadline: a hung pirwatch fails its test instead of the whole suite.
        let out = tokio::time::timeout(
            std::time::Duration::from_secs(120),
            self.command(args).output(),
        )
        .await
        .unwrap_or_else(|_| panic!("pirwatch {args:?} did not finish within 120 s"))
        .expect("run pirwatch");
        Run {
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }

    /// The command, for tests that need to control the process.
    pub fn command(&self, args: &[&str]) -> tokio::process::Command {
        let path = format!(
            "{}:{}",
            self.path().join("bin").display(),
            std::env::var("PATH").unwrap_or_default()
        );
        let mut cmd = tokio::process::Command::new(env!("CARGO_BIN_EXE_pirwatch"));
        cmd.args(args)
            .env("PIRWATCH_CONFIG", self.config_path())
            .env("PATH", path)
            .env("PIRWATCH_LOG", "info")
            .env_remove("CREDENTIALS_DIRECTORY")
            .kill_on_drop(true);
        cmd
    }

    /// `pirwatch incidents --json`, parsed.
    pub async fn incidents(&self) -> Vec<serde_json::Value> {
        let r = self.pirwatch(&["incidents", "--json"]).await;
        assert_eq!(r.code, 0, "incidents failed: {}", r.stderr);
        serde_json::from_str(&r.stdout).expect("incidents JSON")
    }
}

/// A test's usual parts: an env, the fake ARM, a plain SMTP sink, and the config they make.
pub struct World {
    pub env: Env,
    pub arm: arm::FakeArm,
    pub sink: smtp::SmtpSink,
    /// The config, not yet written by [`World::new`]: adjust it, then `env.write_config`.
    pub setup: Setup,
}

impl World {
    /// The parts, with the default setup not yet written.
    pub async fn new() -> Self {
        let env = Env::new();
        let arm = arm::FakeArm::start(TOKEN).await;
        let sink = smtp::SmtpSink::start(env.path(), &smtp::SinkOptions::default());
        let setup = Setup::new(&arm.base, sink.port);
        Self {
            env,
            arm,
            sink,
            setup,
        }
    }

    /// The parts, with the default setup written.
    pub async fn started() -> Self {
        let w = Self::new().await;
        w.env.write_config(&w.setup);
        w
    }
}

/// A finished run of the binary.
#[derive(Debug)]
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

/// `PRAGMA integrity_check` of a store, read with a connection of its own.
pub async fn integrity(db: &Path) -> String {
    use sqlx::Connection;
    let mut conn = sqlx::SqliteConnection::connect(&format!("sqlite://{}", db.display()))
        .await
        .expect("open the store");
    let r: String = sqlx::query_scalar("PRAGMA integrity_check")
        .fetch_one(&mut conn)
        .await
        .expect("integrity_check");
    conn.close().await.expect("close");
    r
}

/// Writes a secret file readable by its owner only (pirwatch refuses world-readable ones).
pub fn write_secret(path: &Path, content: &str) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::write(path, content).expect("write secret");
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600)).expect("chmod secret");
}

/// `now - days`.
pub fn days_ago(days: i64) -> jiff::Timestamp {
    jiff::Timestamp::now() - jiff::SignedDuration::from_hours(24 * days)
}

/// `now - hours`.
pub fn hours_ago(hours: i64) -> jiff::Timestamp {
    jiff::Timestamp::now() - jiff::SignedDuration::from_hours(hours)
}

/// Waits until `done` holds, polling every 50 ms, for at most `secs` seconds.
pub async fn wait_for(what: &str, secs: u64, mut done: impl FnMut() -> bool) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(secs);
    while !done() {
        assert!(
            std::time::Instant::now() < deadline,
            "timed out waiting for {what}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}

/// Sends a signal (`-TERM`, `-HUP`, ...) to a process.
pub fn signal(pid: u32, sig: &str) {
    let ok = std::process::Command::new("kill")
        .args([sig, &pid.to_string()])
        .status()
        .expect("kill")
        .success();
    assert!(ok, "kill {sig} {pid}");
}
