#!/usr/bin/env bash
# The README's test command: installs the pinned Ethereum tools into ./.tools (anvil, forge,
# cast, solc, a web3.py venv; skipped when already there), then runs every test: Rust unit
# and end-to-end tests (on the embedded devnet and on a real anvil, plus cast and web3.py
# against the devnet) and the Solidity tests. Arguments go to `cargo test` (after `--`: to
# the test executables).
set -euo pipefail
root="$(cd "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")/.." && pwd)"
cd "$root"

bash scripts/install-tools.sh
echo "== guest programs for the fault-proof VM (riscv32imac-unknown-none-elf) =="
bash scripts/build-guests.sh
echo "== Rust tests: build =="
cargo test --workspace --no-run "$@"
# The Solidity tests run beside the Rust tests, which leave CPU idle while they wait on
# wall-clock windows; their output follows the Rust tests'.
mkdir -p target
forge_log="target/forge-test.log"
bash scripts/forge.sh test > "$forge_log" 2>&1 &
forge=$!
echo "== Rust tests: run (scripts/run-tests.py, two test executables at a time) =="
# With the tools installed, their tests must run, not skip.
rust=0
LOFT_REQUIRE_TOOLS=1 python3 scripts/run-tests.py "$@" || rust=$?
echo "== Solidity tests (forge) =="
solidity=0
wait "$forge" || solidity=$?
cat "$forge_log"
if (( rust != 0 || solidity != 0 )); then
  echo "tests failed (Rust: exit $rust, Solidity: exit $solidity)" >&2
  exit 1
fi
