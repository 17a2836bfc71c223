//! The test kit: what every loft test that needs a chain, a tool or a deadline shares.
//!
//! - an embedded devnet ([`devnet`], [`devnet_with`]) or a real anvil ([`anvil`]);
//! - the pinned Ethereum tools of `.tools/bin` ([`tool`]): a test whose tool is missing is
//!   skipped, or fails where CI demands the tools (`LOFT_REQUIRE_TOOLS=1`);
//! - [`wait_until`], [`wait_until_every`] and [`wait_until_blocking`]: poll a condition under a deadline, failing with
//!   what was awaited;
//! - [`Process`]: a child process killed and reaped when dropped;
//! - [`free_port`]: ports that no other test of the run, and no port-0 bind, can be handed;
//! - [`cached`]: what is slow to make and the same every time (the ZK rollup's deterministic
//!   keys, per circuit shape and version) kept under `target/loft-test-cache/`.
//!
//! A dev-dependency only: nothing here ships in a binary.

use std::{
    net::TcpListener,
    path::{Path, PathBuf},
    sync::{
        Mutex,
        atomic::{AtomicU16, Ordering},
    },
    time::{Duration, Instant},
};

pub use alloy::node_bindings::AnvilInstance;
use loft_devnet::{Devnet, DevnetConfig};
use loft_rpc::MiningMode;

/// The workspace root.
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// Whether CI demands the tools (`LOFT_REQUIRE_TOOLS=1`): a test that needs a missing one
/// then fails instead of being skipped.
pub fn tools_required() -> bool {
    std::env::var("LOFT_REQUIRE_TOOLS").is_ok_and(|v| v == "1")
}

/// Says why a test is skipped (seen with `--nocapture` and in CI logs), or fails the test
/// where CI demands the tools.
pub fn skip_or_fail(reason: &str) {
    if tools_required() {
        panic!("required tool missing: {reason}");
    }
    eprintln!("SKIPPED: {reason}");
}

/// A tool from `.tools/bin` (scripts/install-tools.sh) or PATH, without a verdict.
pub fn find_tool(name: &str) -> Option<PathBuf> {
    let local = workspace_root().join(".tools/bin").join(name);
    if local.exists() {
        return Some(local);
    }
    std::env::var_os("PATH")
        .and_then(|paths| std::env::split_paths(&paths).map(|p| p.join(name)).find(|p| p.exists()))
}

/// A tool the test needs: its path, or `None` after [`skip_or_fail`] (the caller returns).
pub fn tool(name: &str) -> Option<PathBuf> {
    let found = find_tool(name);
    if found.is_none() {
        skip_or_fail(&format!("{name} is not installed (run scripts/install-tools.sh)"));
    }
    found
}

/// An embedded devnet on a free port, mining as `mining` says.
pub async fn devnet(mining: MiningMode) -> Devnet {
    devnet_with(DevnetConfig { mining, ..Default::default() }).await
}

/// An embedded devnet from `config`, on a free port of the loopback.
pub async fn devnet_with(config: DevnetConfig) -> Devnet {
    let addr = "127.0.0.1:0".parse().expect("a socket address");
    Devnet::start(DevnetConfig { addr, ..config }).await.expect("the devnet starts")
}

/// A real anvil (the pinned one), killed when dropped; `None` after [`skip_or_fail`] when
/// it is not installed.
pub fn anvil() -> Option<AnvilInstance> {
    let path = tool("anvil")?;
    Some(alloy::node_bindings::Anvil::new().path(path).try_spawn().expect("anvil starts"))
}

/// Polls `check` every 50 ms until it gives a value, and returns it; fails the test, naming
/// `what`, once `timeout` has passed.
pub async fn wait_until<T>(what: &str, timeout: Duration, check: impl AsyncFnMut() -> Option<T>) -> T {
    wait_until_every(what, timeout, Duration::from_millis(50), check).await
}

/// [`wait_until`] polling every `interval`: for a check that costs (a process started) or
/// that moves a chain (a transaction that makes an L1 block, whose clock must not run ahead).
pub async fn wait_until_every<T>(
    what: &str,
    timeout: Duration,
    interval: Duration,
    mut check: impl AsyncFnMut() -> Option<T>,
) -> T {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(value) = check().await {
            return value;
        }
        assert!(Instant::now() < deadline, "timed out after {timeout:?} waiting for {what}");
        tokio::time::sleep(interval).await;
    }
}

/// [`wait_until`] for a test without a runtime: the thread sleeps between checks.
pub fn wait_until_blocking<T>(what: &str, timeout: Duration, mut check: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(value) = check() {
            return value;
        }
        assert!(Instant::now() < deadline, "timed out after {timeout:?} waiting for {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// A child process killed (SIGKILL) and reaped when dropped, so a failing test leaves none
/// behind.
pub struct Process(pub std::process::Child);

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The first port [`free_port`] tries: below Linux's ephemeral range (32768 and up), so no
/// port-0 bind of this or another process is handed one of ours.
const PORT_BASE: u16 = 20_000;
/// Ports each test process may take; processes are spread over the range by their pid.
const PORTS_PER_PROCESS: u16 = 200;
/// Process slots in the range [`PORT_BASE`]..32_000.
const PORT_SLOTS: u16 = 60;

/// A TCP port of the loopback that no other caller in this process is handed, outside the
/// ephemeral range, and free when checked: a child process told to listen on it finds it
/// free unless a process outside the tests took it meanwhile.
pub fn free_port() -> u16 {
    static NEXT: AtomicU16 = AtomicU16::new(0);
    let slot = (std::process::id() % u32::from(PORT_SLOTS)) as u16;
    let first = PORT_BASE + slot * PORTS_PER_PROCESS;
    loop {
        let offset = NEXT.fetch_add(1, Ordering::Relaxed);
        assert!(offset < PORTS_PER_PROCESS, "the test process used its {PORTS_PER_PROCESS} ports");
        let port = first + offset;
        if TcpListener::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
}

/// `target/loft-test-cache/<name>` of the workspace, created: kept between test runs (a clean
/// clone starts without it), removed by `cargo clean`.
pub fn cache_dir(name: &str) -> PathBuf {
    let dir = workspace_root().join("target/loft-test-cache").join(name);
    std::fs::create_dir_all(&dir).expect("the test cache folder");
    dir
}

/// The thing cached at `path` (`load` reads it; `None`: absent or unreadable), else made by
/// `make`, which also writes it there. One maker at a time in a process, so tests that need
/// the same thing make it once. `path` must name everything the thing depends on (a circuit's
/// shape and version): a stale file is read as if it were current.
pub fn cached<T>(path: &Path, load: impl FnOnce(&Path) -> Option<T>, make: impl FnOnce(&Path) -> T) -> T {
    one_at_a_time(|| match load(path) {
        Some(thing) => thing,
        None => make(path),
    })
}

/// Runs `f` while no other caller of this function (or of [`cached`]) in the process runs:
/// for a library's own load-or-make of a cached file, which two tests must not write at once.
pub fn one_at_a_time<T>(f: impl FnOnce() -> T) -> T {
    static MAKING: Mutex<()> = Mutex::new(());
    let _turn = MAKING.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    f()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ports_are_never_handed_out_twice() {
        let ports: Vec<u16> = (0..20).map(|_| free_port()).collect();
        let mut unique = ports.clone();
        unique.sort_unstable();
        unique.dedup();
        assert_eq!(unique.len(), ports.len());
        assert!(ports.iter().all(|p| (PORT_BASE..32_768).contains(p)));
    }

    #[test]
    fn wait_until_returns_the_value_and_names_what_timed_out() {
        let mut calls = 0;
        let got = wait_until_blocking("three calls", Duration::from_secs(5), || {
            calls += 1;
            (calls == 3).then_some(calls)
        });
        assert_eq!(got, 3);
        let timeout = std::panic::catch_unwind(|| {
            wait_until_blocking("nothing", Duration::from_millis(60), || None::<()>)
        });
        let message = timeout.expect_err("a deadline").downcast::<String>().expect("a message");
        assert!(message.contains("waiting for nothing"), "{message}");
    }
}
