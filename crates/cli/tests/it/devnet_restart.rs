//! `loft devnet` started, stopped and started again in the same folder, twice without
//! `--data-dir` (a new in-memory L1 each time, on which the ZK rollup lands at the same
//! address) and twice with it (the L1 and every record kept): every start reaches "ready"
//! and its demos finish. A record made for another deployment is set aside, never replayed
//! (before records were bound, the second in-memory start replayed the first run's ZK blocks
//! and retried `submitBlock` forever). The optimistic rollup is left out to keep the test
//! short: without a data directory it keeps nothing it reads back, and its restart from one
//! is `rollup_crash.rs`'s.

use crate::common;

use std::{path::Path, process::Command};

/// Runs `loft devnet` to the end of its demos in `dir`; returns what it printed.
fn devnet(dir: &Path, data_dir: Option<&str>) -> String {
    let port = |_: ()| common::free_port().to_string();
    let mut command = Command::new(env!("CARGO_BIN_EXE_loft"));
    command.current_dir(dir).args([
        "devnet",
        "--exit-after-deploy",
        "--no-rollup",
        // the smallest circuit the demo fits in (16 accounts, 4 tokens each, 2 transfer slots):
        // its proofs are most of the test's time
        "--zk-account-depth",
        "4",
        "--zk-balance-depth",
        "2",
        "--zk-transfers",
        "2",
        "--port",
        &port(()),
        "--zk-port",
        &port(()),
    ]);
    if let Some(d) = data_dir {
        command.args(["--data-dir", d]);
    }
    // A start that never gets ready (the bug this test is for) is killed and fails.
    let mut child = command
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("loft devnet runs");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(300);
    while child.try_wait().expect("wait").is_none() {
        if std::time::Instant::now() > deadline {
            let _ = child.kill();
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
    let out = child.wait_with_output().expect("output");
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "loft devnet failed or hung\nstdout:\n{stdout}\nstderr:\n{stderr}");
    for line in ["bob is paid 0.2", "ready; exiting"] {
        assert!(stdout.contains(line), "no {line:?} in\n{stdout}\nstderr:\n{stderr}");
    }
    stdout
}

#[test]
fn devnet_starts_again_in_the_same_folder() {
    let dir = tempfile::tempdir().expect("tempdir");
    common::seed_zk_keys(&dir.path().join("target/loft-devnet/zk/keys"));
    devnet(dir.path(), None);
    let again = devnet(dir.path(), None);
    assert!(again.contains("names a rollup this L1 does not have"), "{again}");
    assert!(again.contains("was made for another deployment: set aside"), "{again}");

    // The same with a data directory (the circuits' keys put there too, so they are not set
    // up again): the second start resumes the same ZK rollup.
    common::seed_zk_keys(&dir.path().join("dd/zk/keys"));
    let first = devnet(dir.path(), Some("dd"));
    assert!(first.contains("deployed (record dd/zk/zk.json)"), "{first}");
    let resumed = devnet(dir.path(), Some("dd"));
    assert!(resumed.contains("(from dd/zk/zk.json)"), "{resumed}");
    assert!(!resumed.contains("set aside"), "{resumed}");
}
