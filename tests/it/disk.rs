//! A store that cannot be written: the state directory on a small tmpfs that the test fills up,
//! then makes read-only. Needs root (to mount); `scripts/test` sets `PIRWATCH_TEST_ROOT=1` when
//! it runs as root, as CI does.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use crate::support::arm::{Ev, FakeArm};
use crate::support::smtp::{PortReservation, SinkOptions, SmtpSink};
use crate::support::{Env, Setup, TOKEN, hours_ago, integrity, signal, wait_for};

/// A tmpfs mounted at a directory, unmounted on drop.
struct Tmpfs(PathBuf);

impl Tmpfs {
    fn mount(dir: &Path, size: &str) -> Self {
        std::fs::create_dir_all(dir).expect("mount point");
        let ok = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(dir)
            .status()
            .expect("run mount");
        assert!(ok.success(), "mount tmpfs at {}", dir.display());
        Self(dir.to_path_buf())
    }

    fn remount(&self, mode: &str) {
        let ok = Command::new("mount")
            .args(["-o", &format!("remount,{mode}")])
            .arg(&self.0)
            .status()
            .expect("run mount");
        assert!(ok.success(), "remount {mode}");
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.0).status();
    }
}

/// Fills the filesystem holding `dir` with one file; returns it.
fn fill(dir: &Path) -> PathBuf {
    use std::io::Write;
    let path = dir.join("filler");
    let mut f = std::fs::File::create(&path).expect("filler");
    let chunk = vec![0u8; 64 * 1024];
    while f.write_all(&chunk).is_ok() {}
    let _ = f.sync_all();
    path
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_disk_pauses_delivery_without_resending_and_a_read_only_store_can_be_read() {
    if std::env::var_os("PIRWATCH_TEST_ROOT").is_none() {
        eprintln!("skipped: mounting a tmpfs needs root (scripts/test sets PIRWATCH_TEST_ROOT)");
        return;
    }
    let env = Env::new();
    let arm = FakeArm::start(TOKEN).await;
    let port = PortReservation::new();
    let state = env.state_path().parent().expect("state dir").to_path_buf();
    let tmpfs = Tmpfs::mount(&state, "4m");
    let mut setup = Setup::new(&arm.base, port.port);
    setup.smtp_extra += "retry_backoff = \"1s\"\n";
    env.write_config(&setup);
    assert_eq!(env.pirwatch(&["once"]).await.code, 0);
    arm.set_events(
        "sub-a",
        vec![Ev::service_issue("DISK-1", "Outage", hours_ago(1)).build()],
    );
    // SMTP is down: the daemon queues the mail and retries it.
    let log = env.path().join("run.log");
    let mut child = env
        .command(&["run"])
        .stderr(Stdio::from(std::fs::File::create(&log).expect("log")))
        .spawn()
        .expect("spawn run");
    let pid = child.id().expect("pid");
    let text = || std::fs::read_to_string(&log).unwrap_or_default();
    wait_for("a failed delivery", 20, || text().contains("will retry")).await;
    // The disk fills up and SMTP comes back; a reload wakes the deliverer at once.
    let filler = fill(&state);
    let sink = SmtpSink::start_on(env.path(), &port, &SinkOptions::default());
    tokio::time::sleep(Duration::from_millis(1100)).await; // past the 1 s retry backoff
    signal(pid, "-HUP");
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while !text().contains("the store cannot be written") {
        assert!(
            std::time::Instant::now() < deadline,
            "no warning; the log:\n{}",
            text()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let said = text();
    assert!(said.contains("disk full"), "{said}");
    assert!(
        said.contains(&env.state_path().display().to_string()),
        "names the store: {said}"
    );
    assert!(
        sink.messages().is_empty(),
        "nothing sent while it cannot be recorded"
    );
    // Space again: delivery resumes by itself (a reload just wakes it at once).
    std::fs::remove_file(&filler).expect("free the disk");
    signal(child.id().expect("pid"), "-HUP");
    wait_for("the mail after the disk was freed", 20, || {
        sink.messages().len() == 1
    })
    .await;
    signal(child.id().expect("pid"), "-TERM");
    let status = tokio::time::timeout(Duration::from_secs(10), child.wait())
        .await
        .expect("stops")
        .expect("wait");
    assert_eq!(status.code(), Some(0));
    assert!(
        text().contains("the store can be written again"),
        "{}",
        text()
    );
    assert_eq!(env.pirwatch(&["once"]).await.code, 0);
    assert_eq!(sink.messages().len(), 1, "exactly once");
    assert_eq!(integrity(&env.state_path()).await, "ok");

    // A read-only state directory: the record can still be read.
    tmpfs.remount("ro");
    let r = env.pirwatch(&["incidents", "--json"]).await;
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(r.stdout.contains("DISK-1"), "{}", r.stdout);
    assert!(r.stderr.contains("showing it read-only"), "{}", r.stderr);
    let r = env.pirwatch(&["show", "DISK-1"]).await;
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(r.stdout.contains("# Azure incident DISK-1"), "{}", r.stdout);
    tmpfs.remount("rw");
}
