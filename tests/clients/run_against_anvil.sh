#!/usr/bin/env bash
# run_against_anvil.sh: reference run of the client tests against a fresh anvil.
#
# Starts .tools/bin/anvil on 127.0.0.1:$ANVIL_PORT (default 18545) and, in front of
# it, tests/clients/rpc_guard.py on $GUARD_PORT (default 18546), which rejects every
# non-standard method (anvil_*, evm_*, ...). Runs cast_e2e.sh and web3_e2e.py through
# the guard, prints the RPC methods they used, and stops both processes.
#
#   tests/clients/run_against_anvil.sh                 # automine (a block per tx)
#   ANVIL_BLOCK_TIME=1 tests/clients/run_against_anvil.sh   # interval mining, 1 s blocks
#
# Needs scripts/install-tools.sh to have run.
set -euo pipefail
root="$(cd "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")/../.." && pwd)"
ANVIL_PORT="${ANVIL_PORT:-18545}"
GUARD_PORT="${GUARD_PORT:-18546}"
anvil="$root/.tools/bin/anvil"
py="$root/.tools/venv/bin/python"
[[ -x "$anvil" && -x "$py" ]] || { echo "run_against_anvil: run scripts/install-tools.sh first" >&2; exit 127; }

work="$(mktemp -d "${TMPDIR:-/tmp}/loft-clients.XXXXXX")"
anvil_pid="" guard_pid=""
cleanup() {
  [[ -n "$guard_pid" ]] && kill "$guard_pid" 2>/dev/null && wait "$guard_pid" 2>/dev/null
  [[ -n "$anvil_pid" ]] && kill "$anvil_pid" 2>/dev/null && wait "$anvil_pid" 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT

anvil_args=(--host 127.0.0.1 --port "$ANVIL_PORT" --silent)
[[ -n "${ANVIL_BLOCK_TIME:-}" ]] && anvil_args+=(--block-time "$ANVIL_BLOCK_TIME")
"$anvil" "${anvil_args[@]}" >"$work/anvil.log" 2>&1 &
anvil_pid=$!
"$py" "$root/tests/clients/rpc_guard.py" --listen "127.0.0.1:$GUARD_PORT" \
  --upstream "http://127.0.0.1:$ANVIL_PORT" --stats "$work/methods.json" 2>"$work/guard.log" &
guard_pid=$!

# wait until anvil answers through the guard
for _ in $(seq 1 100); do
  if "$root/.tools/bin/cast" chain-id --rpc-url "http://127.0.0.1:$GUARD_PORT" >/dev/null 2>&1; then
    break
  fi
  kill -0 "$anvil_pid" 2>/dev/null || { cat "$work/anvil.log" >&2; echo "anvil exited" >&2; exit 1; }
  sleep 0.1
done

export LOFT_RPC_URL="http://127.0.0.1:$GUARD_PORT"
export LOFT_CHAIN_ID=31337
rc=0
echo "== cast_e2e.sh"
"$root/tests/clients/cast_e2e.sh" || rc=1
echo "== web3_e2e.py"
"$py" "$root/tests/clients/web3_e2e.py" || rc=1

echo "== JSON-RPC methods used (through rpc_guard)"
"$py" - "$work/methods.json" <<'EOF'
import json, sys
s = json.load(open(sys.argv[1]))
print("  forwarded: " + ", ".join(f"{m} x{n}" for m, n in s["forwarded"].items()))
if s["blocked"]:
    print("  blocked (non-standard, answered -32601): " + ", ".join(f"{m} x{n}" for m, n in s["blocked"].items()))
EOF
exit "$rc"
