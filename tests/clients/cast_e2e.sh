#!/usr/bin/env bash
# cast_e2e.sh: end-to-end JSON-RPC check of an Ethereum node using Foundry's `cast`.
#
# Deploys DevnetProbe (contracts/artifacts/DevnetProbe.json), calls set(42) in a
# transaction, then reads the result back through storage, logs, receipts, blocks
# and eth_call, and checks revert data. Only standard eth_* methods are used (no
# anvil_* / evm_* / debug_*), so the same script runs against anvil and loft.
#
# env:
#   LOFT_RPC_URL        node to test (default http://127.0.0.1:8545)
#   LOFT_PRIVATE_KEY    funded key (default: anvil/hardhat dev account 0)
#   LOFT_CHAIN_ID       if set, the chain id the node must report
#   LOFT_TX_TIMEOUT     seconds to wait for one receipt (default 120)
#   CAST                cast binary (default .tools/bin/cast, else cast on PATH)
#
# Exit status 0 when every check passes; otherwise 1 with a FAIL line.
set -euo pipefail

root="$(cd "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")/../.." && pwd)"
RPC="${LOFT_RPC_URL:-http://127.0.0.1:8545}"
PK="${LOFT_PRIVATE_KEY:-0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80}"
TX_TIMEOUT="${LOFT_TX_TIMEOUT:-120}"
ARTIFACT="$root/contracts/artifacts/DevnetProbe.json"
if [[ -z "${CAST:-}" ]]; then
  if [[ -x "$root/.tools/bin/cast" ]]; then CAST="$root/.tools/bin/cast"; else CAST=cast; fi
fi
command -v "$CAST" >/dev/null || { echo "FAIL: cast not found (run scripts/install-tools.sh)" >&2; exit 1; }

checks=0
ok() {
  local v="$2"
  (( ${#v} > 90 )) && v="${v:0:66}... (${#v} chars)"
  checks=$((checks + 1))
  printf 'ok   %-28s %s\n' "$1" "$v"
}
fail() { printf 'FAIL %-28s %s\n' "$1" "$2" >&2; exit 1; }
lower() { tr '[:upper:]' '[:lower:]' <<<"$1"; }
# expect_eq NAME EXPECTED ACTUAL  (case-insensitive: hex and checksummed addresses)
expect_eq() {
  if [[ "$(lower "$2")" != "$(lower "$3")" ]]; then
    fail "$1" "expected '$2', got '$3'"
  fi
  ok "$1" "$3"
}
c() { "$CAST" "$1" --rpc-url "$RPC" "${@:2}"; }
# wait_receipt NAME TXHASH: waits for the receipt and checks status == success
wait_receipt() {
  local status
  status="$(timeout "$TX_TIMEOUT" "$CAST" receipt "$2" status --rpc-url "$RPC")" ||
    fail "$1" "no receipt for $2 within ${TX_TIMEOUT}s"
  case "$status" in
    true | 1 | "1 (success)" | 0x1) ok "$1" "tx $2 status=success" ;;
    *) fail "$1" "tx $2 status='$status' (expected success)" ;;
  esac
}
# pad32 ADDRESS -> 32-byte topic form, lowercase
pad32() { local a; a="$(lower "${1#0x}")"; printf '0x%064s' "$a" | tr ' ' 0; }

echo "cast_e2e: rpc=$RPC cast=$("$CAST" --version | head -n1)"

# ------------------------------------------------------------- node basics
chain_id="$(c chain-id)" || fail chain-id "eth_chainId failed"
[[ "$chain_id" =~ ^[0-9]+$ ]] || fail chain-id "not a number: '$chain_id'"
if [[ -n "${LOFT_CHAIN_ID:-}" ]]; then expect_eq chain-id "$LOFT_CHAIN_ID" "$chain_id"; else ok chain-id "$chain_id"; fi

bn0="$(c block-number)" || fail block-number "eth_blockNumber failed"
[[ "$bn0" =~ ^[0-9]+$ ]] || fail block-number "not a number: '$bn0'"
ok block-number "$bn0"

gas_price="$(c gas-price)" || fail gas-price "eth_gasPrice failed"
[[ "$gas_price" =~ ^[0-9]+$ && "$gas_price" != 0 ]] || fail gas-price "bad gas price '$gas_price'"
ok gas-price "$gas_price wei"

deployer="$("$CAST" wallet address --private-key "$PK")"
balance="$(c balance "$deployer")" || fail balance "eth_getBalance failed"
[[ "$balance" =~ ^[0-9]+$ ]] || fail balance "not a number: '$balance'"
[[ "$balance" != 0 ]] || fail balance "deployer $deployer has no funds"
ok balance "$deployer has $balance wei"

nonce="$(c nonce "$deployer")" || fail nonce "eth_getTransactionCount failed"
ok nonce "$nonce"

# ------------------------------------------------------------- deploy
[[ -f "$ARTIFACT" ]] || fail artifact "$ARTIFACT missing"
bytecode="$(sed -n 's/^  "bytecode": "\(0x[0-9a-fA-F]*\)",\{0,1\}$/\1/p' "$ARTIFACT")"
deployed="$(sed -n 's/^  "deployedBytecode": "\(0x[0-9a-fA-F]*\)",\{0,1\}$/\1/p' "$ARTIFACT")"
[[ ${#bytecode} -gt 2 && ${#deployed} -gt 2 ]] || fail artifact "no bytecode in $ARTIFACT"

deploy_tx="$(c send --private-key "$PK" --async --create "$bytecode")" || fail deploy "eth_sendRawTransaction (create) failed"
wait_receipt deploy-receipt "$deploy_tx"
probe="$("$CAST" receipt "$deploy_tx" contractAddress --rpc-url "$RPC")"
expected_addr="$("$CAST" compute-address "$deployer" --nonce "$nonce" | sed 's/.*: //')"
expect_eq contract-address "$expected_addr" "$probe"
expect_eq code "$deployed" "$(c code "$probe")"
expect_eq nonce-after-deploy "$((nonce + 1))" "$(c nonce "$deployer")"

# constructor state, via eth_call and eth_getStorageAt
expect_eq call-label '"loft"' "$(c call "$probe" 'label()(string)')"
expect_eq call-value 0 "$(c call "$probe" 'value()(uint256)')"
# slot 1: short string "loft" stored inline, length*2 = 8 in the low byte
expect_eq storage-slot1 0x6c6f667400000000000000000000000000000000000000000000000000000008 \
  "$(c storage "$probe" 1)"

# ------------------------------------------------------------- set(42)
gas_est="$(c estimate --from "$deployer" "$probe" 'set(uint256)' 42)" || fail estimate "eth_estimateGas failed"
[[ "$gas_est" =~ ^[0-9]+$ && "$gas_est" -gt 21000 && "$gas_est" -lt 200000 ]] ||
  fail estimate "implausible gas estimate '$gas_est'"
ok estimate "set(42) ~ $gas_est gas"

set_tx="$(c send --private-key "$PK" --async "$probe" 'set(uint256)' 42)" || fail set "eth_sendRawTransaction failed"
wait_receipt set-receipt "$set_tx"
set_block="$("$CAST" receipt "$set_tx" blockNumber --rpc-url "$RPC")"
set_block_hash="$("$CAST" receipt "$set_tx" blockHash --rpc-url "$RPC")"
expect_eq receipt-to "$probe" "$("$CAST" receipt "$set_tx" to --rpc-url "$RPC")"
expect_eq receipt-from "$deployer" "$("$CAST" receipt "$set_tx" from --rpc-url "$RPC")"
gas_used="$("$CAST" receipt "$set_tx" gasUsed --rpc-url "$RPC")"
[[ "$gas_used" =~ ^[0-9]+$ && "$gas_used" -gt 21000 && "$gas_used" -le "$gas_est" ]] ||
  fail receipt-gas-used "gasUsed '$gas_used' not in (21000, estimate $gas_est]"
ok receipt-gas-used "$gas_used"
(( set_block > bn0 )) || fail receipt-block "set tx in block $set_block, not after $bn0"
ok receipt-block "$set_block"
# history: eth_call runs on the state (and in the block) it names
expect_eq call-value-before-set 0 "$(c call "$probe" 'value()(uint256)' --block $((set_block - 1)))"
expect_eq call-value-at-set 42 "$(c call "$probe" 'value()(uint256)' --block "$set_block")"
deploy_block="$("$CAST" receipt "$deploy_tx" blockNumber --rpc-url "$RPC")"
expect_eq code-before-deploy 0x "$(c code "$probe" --block $((deploy_block - 1)))"
expect_eq call-before-deploy 0x "$(c call "$probe" 'value()' --block $((deploy_block - 1)))"
env_at="$(c call "$probe" 'env()(uint256,uint256,uint256)' --block "$deploy_block" | sed -n 2p | cut -d' ' -f1)"
expect_eq call-env-block-number "$deploy_block" "$env_at"

# transaction and block lookups
expect_eq tx-to "$probe" "$(c tx "$set_tx" to)"
expect_eq tx-input "$("$CAST" calldata 'set(uint256)' 42)" "$(c tx "$set_tx" input)"
expect_eq block-hash "$set_block_hash" "$(c block "$set_block" --field hash)"
block_txs="$(c block "$set_block" --json)" || fail block-transactions "eth_getBlockByNumber failed"
grep -qi "${set_tx#0x}" <<<"$block_txs" || fail block-transactions "block $set_block does not list $set_tx"
ok block-transactions "block $set_block lists $set_tx"
latest="$(c block-number)"
(( latest >= set_block )) || fail block-number-after "latest $latest < $set_block"
ok block-number-after "$latest"

# storage: slot 0 value, slot 2 lastSetter, slot 3 setCount
expect_eq storage-slot0 "$("$CAST" to-uint256 42)" "$(c storage "$probe" 0)"
expect_eq storage-slot2 "$(pad32 "$deployer")" "$(c storage "$probe" 2)"
expect_eq storage-slot3 "$("$CAST" to-uint256 1)" "$(c storage "$probe" 3)"
expect_eq storage-at-block "$("$CAST" to-uint256 0)" "$(c storage "$probe" 0 --block $((set_block - 1)))"
expect_eq call-value-after 42 "$(c call "$probe" 'value()(uint256)')"

# ------------------------------------------------------------- logs
topic0="$("$CAST" keccak 'ValueSet(address,uint256)')"
logs="$(c logs --json --from-block "$set_block" --to-block "$set_block" --address "$probe" \
  'ValueSet(address indexed,uint256)' "$deployer")" || fail logs "eth_getLogs failed"
logs="$(lower "$logs" | tr -d ' \n')"
n_logs="$(grep -o '"logindex"' <<<"$logs" | wc -l)"
expect_eq logs-count 1 "$n_logs"
grep -q "\"topics\":\[\"$topic0\",\"$(pad32 "$deployer")\"\]" <<<"$logs" ||
  fail logs-topics "expected topics [$topic0, $(pad32 "$deployer")] in $logs"
ok logs-topics "ValueSet(who=$deployer)"
grep -q "\"data\":\"$("$CAST" to-uint256 42)\"" <<<"$logs" || fail logs-data "expected value 42 in $logs"
ok logs-data "value=42"
grep -q "\"transactionhash\":\"$(lower "$set_tx")\"" <<<"$logs" || fail logs-tx "log not tied to $set_tx"
ok logs-tx "$set_tx"
# a filter on another sender must match nothing
other="$(c logs --json --from-block "$set_block" --to-block "$set_block" --address "$probe" \
  'ValueSet(address indexed,uint256)' 0x000000000000000000000000000000000000dEaD)"
[[ "$(tr -d ' \n' <<<"$other")" == "[]" ]] || fail logs-filter "topic filter matched: $other"
ok logs-filter "no match for other sender"
# receipt logs
receipt_logs="$(lower "$("$CAST" receipt "$set_tx" logs --rpc-url "$RPC")")"
grep -q "$topic0" <<<"$receipt_logs" || fail receipt-logs "ValueSet missing from receipt logs"
ok receipt-logs "ValueSet in receipt"

# ------------------------------------------------------------- reverts
# set(0) reverts with custom error ZeroValue() = 0x7c946ed7; the node must return
# the revert data (JSON-RPC error code 3, data field).
if out="$(c call --from "$deployer" "$probe" 'set(uint256)' 0 2>&1)"; then
  fail revert-custom-error "eth_call set(0) succeeded: $out"
fi
grep -qi '0x7c946ed7' <<<"$out" || fail revert-custom-error "no ZeroValue() data in: $out"
ok revert-custom-error "ZeroValue() 0x7c946ed7"
if out="$(c estimate --from "$deployer" "$probe" 'set(uint256)' 0 2>&1)"; then
  fail revert-estimate "eth_estimateGas set(0) succeeded: $out"
fi
grep -qi '0x7c946ed7' <<<"$out" || fail revert-estimate "no ZeroValue() data in: $out"
ok revert-estimate "ZeroValue() 0x7c946ed7"
# setLabel("") reverts with Error(string) "DevnetProbe: empty label"
reason_data="$("$CAST" calldata 'Error(string)' 'DevnetProbe: empty label')"
if out="$(c call --from "$deployer" "$probe" 'setLabel(string)' '' 2>&1)"; then
  fail revert-reason "eth_call setLabel(\"\") succeeded: $out"
fi
grep -qi "${reason_data#0x}" <<<"$out" || fail revert-reason "no Error(string) data in: $out"
ok revert-reason '"DevnetProbe: empty label"'

# a reverting transaction (gas limit given, so no estimation) is still mined, with
# status 0 and no state change
rev_tx="$(c send --private-key "$PK" --async --gas-limit 100000 "$probe" 'set(uint256)' 0)" ||
  fail reverted-tx "eth_sendRawTransaction failed"
rev_status="$(timeout "$TX_TIMEOUT" "$CAST" receipt "$rev_tx" status --rpc-url "$RPC")" ||
  fail reverted-tx "no receipt for $rev_tx within ${TX_TIMEOUT}s"
case "$rev_status" in
  false | 0 | "0 (failed)" | 0x0) ok reverted-tx "tx $rev_tx status=failed" ;;
  *) fail reverted-tx "tx $rev_tx status='$rev_status' (expected failure)" ;;
esac
expect_eq reverted-tx-state "$("$CAST" to-uint256 1)" "$(c storage "$probe" 3)"

# ------------------------------------------------------------- balance moved
balance_after="$(c balance "$deployer")"
dec_lt() { # a < b for decimal strings of any length
  local a="$1" b="$2"
  (( ${#a} != ${#b} )) && { (( ${#a} < ${#b} )); return; }
  [[ "$a" < "$b" ]]
}
dec_lt "$balance_after" "$balance" || fail balance-after "balance did not drop: $balance -> $balance_after"
ok balance-after "$balance_after wei (paid fees)"

echo "cast_e2e: all $checks checks passed"
