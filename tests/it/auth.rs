//! Signing in through azure_identity for real: the credentials' token requests go to a local
//! endpoint (client secret and workload identity through a redirecting transport, since Entra
//! ID must be https; managed identity through a loopback `IDENTITY_ENDPOINT`), and the token
//! they return is the one the fake ARM accepts.

use std::sync::{Arc, Mutex};

use crate::support::arm::{Ev, FakeArm};
use crate::support::token::{Seen, local_transport, token_endpoint};
use crate::support::{Env, Setup, TENANT_ID, TOKEN, World, hours_ago};
use pirwatch::config::Config;
use pirwatch::source::azure::AzureSource;
use pirwatch::source::azure::cloud::Cloud;
use pirwatch::source::azure::credential::{self, TenantToken};
use pirwatch::source::event::Scope;

fn config(cloud: &str, credential: &str, dir: &std::path::Path) -> Config {
    let text = format!(
        "[smtp]\nhost = \"localhost\"\nfrom = \"p <p@example.com>\"\n[[tenants]]\nname = \"t\"\n\
         tenant_id = \"{TENANT_ID}\"\ncloud = \"{cloud}\"\nsubscriptions = [\"sub-a\"]\n\
         recipients = [\"a@example.com\"]\n[tenants.credential]\n{credential}"
    );
    let mut c = Config::parse(&text, "test.toml").expect("config");
    c.dir = dir.to_path_buf();
    c
}

fn form(body: &str) -> std::collections::HashMap<String, String> {
    url::form_urlencoded::parse(body.as_bytes())
        .into_owned()
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_secret_signs_in_at_each_clouds_authority_with_its_scope() {
    let cases = [
        (
            "public",
            "login.microsoftonline.com",
            "https://management.azure.com/.default",
        ),
        (
            "china",
            "login.chinacloudapi.cn",
            "https://management.chinacloudapi.cn/.default",
        ),
        (
            "usgov",
            "login.microsoftonline.us",
            "https://management.usgovcloudapi.net/.default",
        ),
    ];
    for (cloud, authority, scope) in cases {
        let dir = tempfile::tempdir().expect("tempdir");
        crate::support::write_secret(&dir.path().join("secret"), "app-s3cret\n");
        let c = config(
            cloud,
            "kind = \"client_secret\"\nclient_id = \"app-id\"\nclient_secret_file = \"secret\"\n",
            dir.path(),
        );
        let seen = Arc::new(Mutex::new(Seen::default()));
        let port = token_endpoint(seen.clone()).await;
        let transport = local_transport(port, &seen);
        let t = &c.tenants[0];
        let cred = credential::build(&c, &t.config, transport).expect("credential");
        let token = TenantToken::new(
            "t",
            "client_secret",
            Cloud::named(t.config.cloud).scope,
            cred,
        );
        assert_eq!(token.bearer().await.expect("token").secret(), TOKEN);
        // Cached: a second call does not sign in again.
        assert_eq!(token.bearer().await.expect("token").secret(), TOKEN);
        let s = seen.lock().expect("seen").clone();
        assert_eq!(s.urls.len(), 1, "{cloud}: {:?}", s.urls);
        assert_eq!(
            s.urls[0],
            format!("https://{authority}/{TENANT_ID}/oauth2/v2.0/token"),
            "{cloud}"
        );
        let f = form(&s.requests[0].1);
        assert_eq!(f.get("client_id").map(String::as_str), Some("app-id"));
        assert_eq!(
            f.get("client_secret").map(String::as_str),
            Some("app-s3cret")
        );
        assert_eq!(
            f.get("grant_type").map(String::as_str),
            Some("client_credentials")
        );
        assert_eq!(f.get("scope").map(String::as_str), Some(scope), "{cloud}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn workload_identity_presents_the_token_file_and_its_token_polls_arm() {
    let dir = tempfile::tempdir().expect("tempdir");
    crate::support::write_secret(&dir.path().join("sa-token"), "kubernetes-sa-jwt");
    let arm = FakeArm::start(TOKEN).await;
    arm.set_events(
        "sub-a",
        vec![Ev::service_issue("WI_1", "x", hours_ago(1)).build()],
    );
    let mut c = config(
        "public",
        "kind = \"workload_identity\"\nclient_id = \"wi-app\"\ntoken_file = \"sa-token\"\n",
        dir.path(),
    );
    c.tenants[0].config.arm_endpoint = Some(url::Url::parse(&arm.base).expect("url"));
    let seen = Arc::new(Mutex::new(Seen::default()));
    let port = token_endpoint(seen.clone()).await;
    let transport = local_transport(port, &seen);
    let source = AzureSource::new(&c, reqwest::Client::new(), Some(transport));
    let results = source.poll(&c.tenants[0], jiff::Timestamp::now()).await;
    assert_eq!(results.len(), 1);
    assert_eq!(results[0].scope, Scope::Subscription("sub-a".into()));
    let events = results[0]
        .outcome
        .as_ref()
        .expect("polled with the workload token");
    assert_eq!(events[0].tracking_id, "WI_1");
    let s = seen.lock().expect("seen").clone();
    let f = form(&s.requests[0].1);
    assert_eq!(
        f.get("client_assertion").map(String::as_str),
        Some("kubernetes-sa-jwt")
    );
    assert_eq!(f.get("client_id").map(String::as_str), Some("wi-app"));
    assert!(s.urls[0].starts_with("https://login.microsoftonline.com/"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn managed_identity_uses_the_loopback_identity_endpoint() {
    let World {
        env,
        arm,
        sink,
        mut setup,
    } = World::new().await;
    setup.credential = "kind = \"managed_identity\"\nclient_id = \"uami-client\"\n".into();
    env.write_config(&setup);
    arm.set_events(
        "sub-a",
        vec![Ev::service_issue("MI_1", "x", hours_ago(1)).build()],
    );
    let seen = Arc::new(Mutex::new(Seen::default()));
    let port = token_endpoint(seen.clone()).await;
    let out = env
        .command(&["once"])
        .env(
            "IDENTITY_ENDPOINT",
            format!("http://127.0.0.1:{port}/msi/token"),
        )
        .env("IDENTITY_HEADER", "msi-header-secret")
        .output()
        .await
        .expect("run");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert!(!stderr.contains("msi-header-secret"));
    assert_eq!(sink.messages().len(), 1);
    let s = seen.lock().expect("seen").clone();
    let (request, _, header) = &s.requests[0];
    assert!(request.starts_with("GET /msi/token?"), "{request}");
    assert!(request.contains("api-version=2019-08-01"), "{request}");
    assert!(
        request.contains("resource=https%3A%2F%2Fmanagement.azure.com"),
        "{request}"
    );
    assert!(request.contains("client_id=uami-client"), "{request}");
    assert_eq!(header, "msi-header-secret");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_client_secret_file_is_a_config_error() {
    let env = Env::new();
    let mut setup = Setup::new("http://127.0.0.1:9", 25);
    setup.credential =
        "kind = \"client_secret\"\nclient_id = \"app\"\nclient_secret_file = \"nope\"\n".into();
    env.write_config(&setup);
    let r = env.pirwatch(&["check-config"]).await;
    assert_eq!(r.code, 78, "{}", r.stderr);
    assert!(
        r.stderr
            .contains("tenants[0].credential.client_secret_file: cannot read secret file"),
        "{}",
        r.stderr
    );
}

/// Runs the `openssl` command (Entra ID app certificates are RSA).
#[cfg(feature = "client-certificate")]
fn openssl(args: &[&std::ffi::OsStr]) {
    let status = std::process::Command::new("openssl")
        .args(args)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .expect("run openssl (apt-get install openssl)");
    assert!(status.success(), "openssl {args:?} failed");
}

/// An RSA key and certificate in a PKCS#12 bundle protected by `password`.
#[cfg(feature = "client-certificate")]
fn pkcs12(dir: &std::path::Path, password: &str) -> std::path::PathBuf {
    let (key, crt) = (dir.join("app.key"), dir.join("app.crt"));
    openssl(&[
        "req".as_ref(),
        "-x509".as_ref(),
        "-newkey".as_ref(),
        "rsa:2048".as_ref(),
        "-nodes".as_ref(),
        "-days".as_ref(),
        "2".as_ref(),
        "-subj".as_ref(),
        "/CN=pirwatch-app".as_ref(),
        "-keyout".as_ref(),
        key.as_os_str(),
        "-out".as_ref(),
        crt.as_os_str(),
    ]);
    let out = dir.join("app.pfx");
    let status = std::process::Command::new("openssl")
        .args(["pkcs12", "-export", "-inkey"])
        .arg(dir.join("app.key"))
        .arg("-in")
        .arg(dir.join("app.crt"))
        .arg("-out")
        .arg(&out)
        .arg("-passout")
        .arg(format!("pass:{password}"))
        .status()
        .expect("run openssl (apt-get install openssl)");
    assert!(status.success(), "openssl pkcs12 failed");
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&out, std::fs::Permissions::from_mode(0o600)).expect("chmod pfx");
    }
    out
}

#[cfg(feature = "client-certificate")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_certificate_signs_an_assertion_with_the_pkcs12_key() {
    let dir = tempfile::tempdir().expect("tempdir");
    pkcs12(dir.path(), "pfx-pass");
    crate::support::write_secret(&dir.path().join("pfx-password"), "pfx-pass\n");
    let c = config(
        "public",
        "kind = \"client_certificate\"\nclient_id = \"cert-app\"\ncertificate_file = \"app.pfx\"\n\
         certificate_password_file = \"pfx-password\"\n",
        dir.path(),
    );
    let seen = Arc::new(Mutex::new(Seen::default()));
    let port = token_endpoint(seen.clone()).await;
    let transport = local_transport(port, &seen);
    let cred = credential::build(&c, &c.tenants[0].config, transport).expect("credential");
    let token = TenantToken::new(
        "t",
        "client_certificate",
        Cloud::named(c.tenants[0].config.cloud).scope,
        cred,
    );
    assert_eq!(token.bearer().await.expect("token").secret(), TOKEN);
    let s = seen.lock().expect("seen").clone();
    let f = form(&s.requests[0].1);
    assert_eq!(f.get("client_id").map(String::as_str), Some("cert-app"));
    assert_eq!(
        f.get("client_assertion_type").map(String::as_str),
        Some("urn:ietf:params:oauth:client-assertion-type:jwt-bearer")
    );
    let jwt = f.get("client_assertion").expect("assertion");
    assert_eq!(jwt.split('.').count(), 3, "a signed JWT");
}
