#!/usr/bin/env bash
# The README's test command: installs the pinned Ethereum tools into ./.tools (anvil, forge,
# cast, solc, a web3.py venv; skipped when already there), then runs every test: Rust unit
# and end-to-end tests (on the embedded devnet and on a real anvil, plus cast and web3.py
# against the devnet) and the Solidity tests.
set -euo pipefail
root="$(cd "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")/.." && pwd)"
cd "$root"

bash scripts/install-tools.sh
echo "== Solidity tests (forge) =="
bash scripts/forge.sh test
echo "== Rust tests =="
# With the tools installed, their tests must run, not skip.
LOFT_REQUIRE_TOOLS=1 cargo test --workspace "$@"
