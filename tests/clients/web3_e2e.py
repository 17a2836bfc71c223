#!/usr/bin/env python3
"""web3_e2e.py: end-to-end JSON-RPC check of an Ethereum node using web3.py.

Deploys LoftToken (contracts/artifacts/LoftToken.json), moves tokens and ether with
locally signed EIP-1559 and legacy (EIP-155) transactions sent via
eth_sendRawTransaction, and checks balances, receipts, blocks, logs (eth_getLogs and
eth_newFilter/eth_getFilterChanges), gas estimation, eth_call and revert data. Only
standard eth_* / net_* / web3_* methods are used, so the same script runs against
anvil and against loft's devnet.

Run with the venv from scripts/install-tools.sh:
    .tools/venv/bin/python tests/clients/web3_e2e.py

env:
    LOFT_RPC_URL      node to test (default http://127.0.0.1:8545)
    LOFT_PRIVATE_KEY  funded key (default: anvil/hardhat dev account 0)
    LOFT_CHAIN_ID     if set, the chain id the node must report
    LOFT_TX_TIMEOUT   seconds to wait for one receipt (default 120)

Prints one line per check; exits 1 at the first failure.
"""

import importlib.metadata
import json
import os
import sys
import time
from pathlib import Path

from eth_abi import decode as abi_decode
from eth_abi import encode as abi_encode
from eth_account import Account
from rlp import encode as rlp_encode
from web3 import Web3
from web3.exceptions import ContractCustomError, ContractLogicError
from web3.logs import DISCARD

ROOT = Path(__file__).resolve().parents[2]
RPC_URL = os.environ.get("LOFT_RPC_URL", "http://127.0.0.1:8545")
PRIVATE_KEY = os.environ.get(
    "LOFT_PRIVATE_KEY", "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80"
)
TX_TIMEOUT = float(os.environ.get("LOFT_TX_TIMEOUT", "120"))
# On a rollup (LOFT_L1_FEE=1) every transaction also pays an L1 data fee: quoted before
# sending with loft_getL1Fee, reported in the receipt as l1Fee (the OP Stack's field).
L1_FEE = os.environ.get("LOFT_L1_FEE") == "1"
ARTIFACT = ROOT / "contracts" / "artifacts" / "LoftToken.json"

SUPPLY = 1_000_000 * 10**18
GWEI = 10**9

_checks = 0


def as_int(v) -> int:
    """A quantity from a JSON-RPC answer or a web3 receipt (hex string or int)."""
    if isinstance(v, str):
        return int(v, 16)
    return int(v or 0)


def l1_fee(receipt) -> int:
    """The L1 data fee a receipt reports (0 on an L1)."""
    return as_int(receipt.get("l1Fee", 0))


class CheckFailed(Exception):
    pass


def show(v) -> str:
    """Readable text for check details: bytes as 0x-hex, containers element-wise."""
    if isinstance(v, (bytes, bytearray)):
        return "0x" + bytes(v).hex()
    if isinstance(v, (list, tuple)):
        inner = ", ".join(show(x) for x in v)
        return f"[{inner}]" if isinstance(v, list) else f"({inner})"
    return str(v)


def ok(name: str, detail: object = "") -> None:
    global _checks
    _checks += 1
    text = show(detail)
    if len(text) > 100:
        text = text[:97] + "..."
    print(f"ok   {name:<30} {text}", flush=True)


def fail(name: str, msg: str) -> None:
    raise CheckFailed(f"FAIL {name:<30} {msg}")


def expect_eq(name: str, expected, actual) -> None:
    if expected != actual:
        fail(name, f"expected {show(expected)}, got {show(actual)}")
    ok(name, actual)


def expect(name: str, cond: bool, detail: object, why: str = "") -> None:
    if not cond:
        fail(name, f"{why or 'condition failed'}: {show(detail)}")
    ok(name, detail)


def selector(sig: str) -> bytes:
    return Web3.keccak(text=sig)[:4]


def hexstr(b) -> str:
    """bytes / HexBytes / str -> lowercase 0x-prefixed hex."""
    if isinstance(b, str):
        return b.lower() if b.startswith("0x") else "0x" + b.lower()
    return "0x" + bytes(b).hex()


def topic_addr(addr: str) -> str:
    return "0x" + "00" * 12 + addr[2:].lower()


class Node:
    def __init__(self, w3: Web3):
        self.w3 = w3
        self.chain_id = w3.eth.chain_id

    def send_signed(self, name: str, account, tx: dict):
        """Signs tx locally, sends it with eth_sendRawTransaction, waits for the receipt."""
        signed = account.sign_transaction(tx)
        quote = None
        if L1_FEE:
            resp = self.w3.provider.make_request(
                "loft_getL1Fee", ["0x" + bytes(signed.raw_transaction).hex()]
            )
            quote = as_int(resp.get("result"))
            expect(f"{name}-l1-fee-quote", quote > 0, quote)
        tx_hash = self.w3.eth.send_raw_transaction(signed.raw_transaction)
        if hexstr(tx_hash) != hexstr(signed.hash):
            fail(name, f"node returned hash {hexstr(tx_hash)}, signed hash is {hexstr(signed.hash)}")
        try:
            receipt = self.w3.eth.wait_for_transaction_receipt(
                tx_hash, timeout=TX_TIMEOUT, poll_latency=0.2
            )
        except Exception as e:  # web3.exceptions.TimeExhausted and transport errors
            fail(name, f"no receipt for {hexstr(tx_hash)}: {e}")
        if L1_FEE:
            paid = l1_fee(receipt)
            # the L1 prices may move to a new L1 origin between the quote and the block
            expect(f"{name}-l1-fee-paid", quote / 2 <= paid <= quote * 2, (quote, paid))
        return tx_hash, receipt

    def fees_1559(self) -> tuple[int, int]:
        """(maxFeePerGas, maxPriorityFeePerGas) from the latest block's base fee."""
        base_fee = self.w3.eth.get_block("latest")["baseFeePerGas"]
        tip = 1 * GWEI
        return 2 * base_fee + tip, tip


def main() -> int:
    w3 = Web3(Web3.HTTPProvider(RPC_URL, request_kwargs={"timeout": 30}))
    if not w3.is_connected():
        fail("connect", f"cannot reach {RPC_URL}")
    node = Node(w3)
    owner = Account.from_key(PRIVATE_KEY)
    # a fresh, unfunded account every run: absolute balance checks stay valid on a
    # long-lived devnet
    other = Account.create()
    print(f"web3_e2e: rpc={RPC_URL} web3={importlib.metadata.version('web3')} "
          f"owner={owner.address} other={other.address}")

    # ------------------------------------------------------------ node basics
    if os.environ.get("LOFT_CHAIN_ID"):
        expect_eq("chain-id", int(os.environ["LOFT_CHAIN_ID"]), node.chain_id)
    else:
        expect("chain-id", node.chain_id > 0, node.chain_id)
    expect("net-version", str(w3.net.version).isdigit(), w3.net.version)
    ok("client-version", w3.client_version)
    bn0 = w3.eth.block_number
    expect("block-number", bn0 >= 0, bn0)
    latest = w3.eth.get_block("latest")
    expect("latest-block", latest["number"] >= bn0, latest["number"])
    expect("base-fee", latest.get("baseFeePerGas", 0) > 0, latest.get("baseFeePerGas"),
           "latest block has no baseFeePerGas (EIP-1559)")
    eth0 = w3.eth.get_balance(owner.address)
    expect("owner-balance", eth0 > 10**18, eth0, "owner needs at least 1 ether")
    nonce0 = w3.eth.get_transaction_count(owner.address)
    ok("owner-nonce", nonce0)
    hist = w3.eth.fee_history(4, "latest", [50])
    expect("fee-history", len(hist["baseFeePerGas"]) >= 2, hist["baseFeePerGas"])

    # ------------------------------------------------------------ deploy (EIP-1559)
    art = json.loads(ARTIFACT.read_text())
    Token = w3.eth.contract(abi=art["abi"], bytecode=art["bytecode"])
    ctor = Token.constructor("Loft Token", "LOFT", 18, owner.address, SUPPLY)
    deploy_gas = ctor.estimate_gas({"from": owner.address})
    expect("estimate-deploy", 100_000 < deploy_gas < 3_000_000, deploy_gas)
    max_fee, tip = node.fees_1559()
    tx = ctor.build_transaction({
        "from": owner.address, "nonce": nonce0, "chainId": node.chain_id,
        "gas": deploy_gas, "maxFeePerGas": max_fee, "maxPriorityFeePerGas": tip,
    })
    deploy_hash, rc = node.send_signed("deploy", owner, tx)
    expect_eq("deploy-status", 1, rc["status"])
    expected_addr = Web3.to_checksum_address(
        Web3.keccak(rlp_encode([bytes.fromhex(owner.address[2:]), nonce0]))[12:])
    expect_eq("deploy-address", expected_addr, rc["contractAddress"])
    token = w3.eth.contract(address=rc["contractAddress"], abi=art["abi"])
    code = w3.eth.get_code(token.address)
    # deployedBytecode has zeros where the immutable `decimals` goes, so compare sizes
    expect_eq("deploy-code-size", (len(art["deployedBytecode"]) - 2) // 2, len(code))
    expect("deploy-gas-used", 0 < rc["gasUsed"] <= deploy_gas, rc["gasUsed"])

    # deployment emitted OwnershipTransferred + Transfer(0 -> owner, SUPPLY)
    minted = token.events.Transfer().process_receipt(rc, errors=DISCARD)
    expect_eq("deploy-mint-event",
              [(ZERO, owner.address, SUPPLY)],
              [(e["args"]["from"], e["args"]["to"], e["args"]["value"]) for e in minted])

    # ------------------------------------------------------------ views (eth_call)
    expect_eq("call-name", "Loft Token", token.functions.name().call())
    expect_eq("call-symbol", "LOFT", token.functions.symbol().call())
    expect_eq("call-decimals", 18, token.functions.decimals().call())
    expect_eq("call-total-supply", SUPPLY, token.functions.totalSupply().call())
    expect_eq("call-owner", owner.address, token.functions.owner().call())
    expect_eq("call-balance-owner", SUPPLY, token.functions.balanceOf(owner.address).call())
    expect_eq("code-at-earlier-block", 0,
              len(w3.eth.get_code(token.address, block_identifier=rc["blockNumber"] - 1)))

    # ------------------------------------------------------------ transfer (EIP-1559, raw)
    amount = 1000 * 10**18
    fn = token.functions.transfer(other.address, amount)
    est = fn.estimate_gas({"from": owner.address})
    expect("estimate-transfer", 21_000 < est < 100_000, est)
    max_fee, tip = node.fees_1559()
    tx = {
        "type": 2, "chainId": node.chain_id, "nonce": nonce0 + 1,
        "to": token.address, "value": 0, "data": fn._encode_transaction_data(),
        "gas": est, "maxFeePerGas": max_fee, "maxPriorityFeePerGas": tip,
    }
    t1_hash, r1 = node.send_signed("eip1559-transfer", owner, tx)
    expect_eq("eip1559-status", 1, r1["status"])
    expect_eq("eip1559-receipt-type", 2, r1["type"])
    expect("eip1559-gas-used", 21_000 < r1["gasUsed"] <= est, r1["gasUsed"])
    block1 = w3.eth.get_block(r1["blockNumber"])
    base1 = block1["baseFeePerGas"]
    expect_eq("eip1559-effective-price", base1 + min(tip, max_fee - base1),
              r1["effectiveGasPrice"])
    t1 = w3.eth.get_transaction(t1_hash)
    expect_eq("eip1559-tx-type", 2, t1["type"])
    expect_eq("eip1559-tx-fields", (owner.address, token.address, max_fee, tip, nonce0 + 1),
              (t1["from"], t1["to"], t1["maxFeePerGas"], t1["maxPriorityFeePerGas"], t1["nonce"]))
    expect_eq("eip1559-tx-block", r1["blockHash"], t1["blockHash"])
    expect("eip1559-in-block", t1_hash in block1["transactions"], hexstr(t1_hash))
    expect_eq("eip1559-block-hash", r1["blockHash"], block1["hash"])

    expect_eq("balance-other", amount, token.functions.balanceOf(other.address).call())
    expect_eq("balance-owner", SUPPLY - amount, token.functions.balanceOf(owner.address).call())

    # ------------------------------------------------------------ Transfer via eth_getLogs
    transfer_topic = Web3.keccak(text="Transfer(address,address,uint256)")
    events = token.events.Transfer.get_logs(
        argument_filters={"to": other.address},
        from_block=r1["blockNumber"], to_block=r1["blockNumber"])
    expect_eq("get-logs-count", 1, len(events))
    ev = events[0]
    expect_eq("get-logs-args", (owner.address, other.address, amount),
              (ev["args"]["from"], ev["args"]["to"], ev["args"]["value"]))
    expect_eq("get-logs-tx", hexstr(t1_hash), hexstr(ev["transactionHash"]))
    expect_eq("get-logs-block", r1["blockNumber"], ev["blockNumber"])
    raw = w3.eth.get_logs({
        "address": token.address, "fromBlock": r1["blockNumber"], "toBlock": r1["blockNumber"],
        "topics": [transfer_topic, None, topic_addr(other.address)],
    })
    expect_eq("get-logs-raw", [hexstr(transfer_topic), topic_addr(owner.address),
                               topic_addr(other.address)],
              [hexstr(t) for t in raw[0]["topics"]] if len(raw) == 1 else raw)
    expect_eq("get-logs-raw-data", abi_encode(["uint256"], [amount]), bytes(raw[0]["data"]))
    by_hash = w3.eth.get_logs({"address": token.address, "blockHash": r1["blockHash"]})
    expect_eq("get-logs-block-hash", 1, len(by_hash))
    none = w3.eth.get_logs({"address": token.address, "fromBlock": r1["blockNumber"],
                            "toBlock": r1["blockNumber"],
                            "topics": [transfer_topic, None, topic_addr(ZERO_DEAD)]})
    expect_eq("get-logs-no-match", 0, len(none))

    # ------------------------------------------------------------ legacy tx (EIP-155): fund `other`
    gas_price = w3.eth.gas_price
    expect("gas-price", gas_price > 0, gas_price)
    eth_amount = 10**16
    legacy = {
        "chainId": node.chain_id, "nonce": nonce0 + 2, "to": other.address,
        "value": eth_amount, "gas": 21_000, "gasPrice": gas_price * 2, "data": b"",
    }
    t2_hash, r2 = node.send_signed("legacy-transfer", owner, legacy)
    expect_eq("legacy-status", 1, r2["status"])
    expect_eq("legacy-receipt-type", 0, r2["type"])
    expect_eq("legacy-gas-used", 21_000, r2["gasUsed"])
    t2 = w3.eth.get_transaction(t2_hash)
    expect_eq("legacy-tx-fields", (0, gas_price * 2, eth_amount, node.chain_id),
              (t2["type"], t2["gasPrice"], t2["value"], t2.get("chainId")))
    expect_eq("legacy-eth-balance", eth_amount, w3.eth.get_balance(other.address))

    # ------------------------------------------------------------ eth_newFilter / eth_getFilterChanges
    flt = w3.eth.filter({"address": token.address, "topics": [transfer_topic]})
    ok("new-filter", flt.filter_id)
    back = 400 * 10**18
    fn = token.functions.transfer(owner.address, back)
    est = fn.estimate_gas({"from": other.address})
    max_fee, tip = node.fees_1559()
    tx = fn.build_transaction({
        "from": other.address, "nonce": 0, "chainId": node.chain_id,
        "gas": est, "maxFeePerGas": max_fee, "maxPriorityFeePerGas": tip,
    })
    t3_hash, r3 = node.send_signed("transfer-back", other, tx)
    expect_eq("transfer-back-status", 1, r3["status"])
    changes = []
    deadline = time.time() + 10
    while not changes and time.time() < deadline:
        changes = w3.eth.get_filter_changes(flt.filter_id)
        if not changes:
            time.sleep(0.2)
    expect_eq("filter-changes-count", 1, len(changes))
    expect_eq("filter-changes-log",
              (hexstr(t3_hash), [hexstr(transfer_topic), topic_addr(other.address),
                                 topic_addr(owner.address)],
               abi_decode(["uint256"], bytes(changes[0]["data"]))[0]),
              (hexstr(changes[0]["transactionHash"]),
               [hexstr(t) for t in changes[0]["topics"]], back))
    expect_eq("filter-changes-drained", [], w3.eth.get_filter_changes(flt.filter_id))
    all_logs = w3.eth.get_filter_logs(flt.filter_id)
    expect("filter-logs", any(hexstr(l["transactionHash"]) == hexstr(t3_hash) for l in all_logs),
           len(all_logs))
    expect_eq("uninstall-filter", True, w3.eth.uninstall_filter(flt.filter_id))
    # the event-level filter API (same RPC methods underneath)
    ev_filter = token.events.Transfer.create_filter(from_block=r3["blockNumber"],
                                                    to_block=r3["blockNumber"])
    entries = ev_filter.get_all_entries()
    expect_eq("event-filter-entries", [(other.address, owner.address, back)],
              [(e["args"]["from"], e["args"]["to"], e["args"]["value"]) for e in entries])
    w3.eth.uninstall_filter(ev_filter.filter_id)

    expect_eq("balance-other-after", amount - back,
              token.functions.balanceOf(other.address).call())
    expect_eq("balance-owner-after", SUPPLY - amount + back,
              token.functions.balanceOf(owner.address).call())
    expect_eq("total-supply-after", SUPPLY, token.functions.totalSupply().call())

    # ------------------------------------------------------------ reverts and revert data
    too_much = 10**30
    have = amount - back
    want = (selector("ERC20InsufficientBalance(address,uint256,uint256)")
            + abi_encode(["address", "uint256", "uint256"], [other.address, have, too_much]))
    try:
        token.functions.transfer(owner.address, too_much).call({"from": other.address})
        fail("revert-call", "eth_call of an over-balance transfer did not revert")
    except ContractLogicError as e:
        expect("revert-call-custom", isinstance(e, ContractCustomError), type(e).__name__,
               "expected ContractCustomError (a ContractLogicError)")
        expect_eq("revert-call-data", hexstr(want), hexstr(e.data))
    try:
        token.functions.transfer(owner.address, too_much).estimate_gas({"from": other.address})
        fail("revert-estimate", "eth_estimateGas of an over-balance transfer did not fail")
    except ContractLogicError as e:
        expect_eq("revert-estimate-data", hexstr(want), hexstr(e.data))
    unauthorized = selector("Unauthorized(address)") + abi_encode(["address"], [other.address])
    try:
        token.functions.mint(other.address, 1).call({"from": other.address})
        fail("revert-mint", "mint by non-owner did not revert")
    except ContractLogicError as e:
        expect_eq("revert-mint-data", hexstr(unauthorized), hexstr(e.data))

    # a reverting transaction is still mined: status 0, state unchanged, nonce used
    max_fee, tip = node.fees_1559()
    tx = token.functions.transfer(owner.address, too_much).build_transaction({
        "from": other.address, "nonce": 1, "chainId": node.chain_id,
        "gas": 100_000, "maxFeePerGas": max_fee, "maxPriorityFeePerGas": tip,
    })
    _, r4 = node.send_signed("reverted-tx", other, tx)
    expect_eq("reverted-tx-status", 0, r4["status"])
    expect_eq("reverted-tx-no-logs", [], list(r4["logs"]))
    expect_eq("reverted-tx-nonce", 2, w3.eth.get_transaction_count(other.address))
    expect_eq("reverted-tx-state", have, token.functions.balanceOf(other.address).call())

    # ------------------------------------------------------------ bookkeeping
    # `other` is used by this run only, so its ether balance is exact: funding minus
    # gasUsed * effectiveGasPrice of its two transactions (the reverted one pays too)
    # (plus, on a rollup, the L1 data fee of each)
    spent = sum(r["gasUsed"] * r["effectiveGasPrice"] + l1_fee(r) for r in (r3, r4))
    expect_eq("other-eth-after-fees", eth_amount - spent, w3.eth.get_balance(other.address))
    expect_eq("owner-nonce-after", nonce0 + 3, w3.eth.get_transaction_count(owner.address))
    expect("owner-paid-fees", w3.eth.get_balance(owner.address) < eth0 - eth_amount,
           w3.eth.get_balance(owner.address))
    expect("block-number-after", w3.eth.block_number >= r4["blockNumber"] > bn0,
           w3.eth.block_number)
    expect_eq("receipt-by-hash", r1["transactionHash"],
              w3.eth.get_transaction_receipt(t1_hash)["transactionHash"])

    print(f"web3_e2e: all {_checks} checks passed")
    return 0


ZERO = "0x0000000000000000000000000000000000000000"
ZERO_DEAD = "0x000000000000000000000000000000000000dEaD"

if __name__ == "__main__":
    try:
        sys.exit(main())
    except CheckFailed as e:
        print(e, file=sys.stderr)
        sys.exit(1)
    except Exception as e:  # unexpected client/transport error: still a clear, non-zero exit
        print(f"FAIL {'unexpected-error':<30} {type(e).__name__}: {e}", file=sys.stderr)
        sys.exit(1)
