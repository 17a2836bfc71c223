//! Shared helpers of the end-to-end tests.
#![allow(dead_code)]

use std::path::PathBuf;

use loft_l1::{Devnet, DevnetConfig};
use loft_rpc::MiningMode;

/// The workspace root.
pub fn workspace_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// A tool from `.tools/bin` (installed by scripts/install-tools.sh) or PATH.
pub fn find_tool(name: &str) -> Option<PathBuf> {
    let local = workspace_root().join(".tools/bin").join(name);
    if local.exists() {
        return Some(local);
    }
    std::env::var_os("PATH")
        .and_then(|paths| std::env::split_paths(&paths).map(|p| p.join(name)).find(|p| p.exists()))
}

/// Starts an embedded devnet on a free port.
pub async fn devnet(mining: MiningMode) -> Devnet {
    Devnet::start(DevnetConfig { addr: "127.0.0.1:0".parse().expect("addr"), mining, ..Default::default() })
        .await
        .expect("devnet starts")
}

/// Prints why a test is skipped (visible with --nocapture and in CI logs) unless CI
/// demands the tool, in which case the test fails.
pub fn skip_or_fail(reason: &str) {
    if std::env::var("LOFT_REQUIRE_TOOLS").is_ok_and(|v| v == "1") {
        panic!("required tool missing: {reason}");
    }
    eprintln!("SKIPPED: {reason}");
}
