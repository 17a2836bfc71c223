#!/usr/bin/env python3
"""web3_replica.py: a rollup replica takes transactions as a sequencer does, with web3.py.

The replica derives the L2 from L1 alone and never includes a transaction itself: it
forwards eth_sendRawTransaction to its sequencer and answers with the sequencer's answer.
This script runs the same client flow (sign locally, send, wait for the receipt) once
through the replica and once through the sequencer, and checks that each transaction ends
with the same receipt on both nodes, and that a refused transaction gets the same error
(code and message) from both.

env:
    LOFT_RPC_URL        the replica (default http://127.0.0.1:9546)
    LOFT_SEQUENCER_URL  the sequencer (default http://127.0.0.1:9545)
    LOFT_PRIVATE_KEY    a key funded on L2 (default: dev account 0)
    LOFT_TX_TIMEOUT     seconds to wait for one receipt (default 120)

Prints one line per check; exits 1 at the first failure.
"""

import os
import sys

from eth_account import Account
from web3 import Web3

REPLICA_URL = os.environ.get("LOFT_RPC_URL", "http://127.0.0.1:9546")
SEQUENCER_URL = os.environ.get("LOFT_SEQUENCER_URL", "http://127.0.0.1:9545")
PRIVATE_KEY = os.environ.get(
    "LOFT_PRIVATE_KEY", "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80"
)
TX_TIMEOUT = float(os.environ.get("LOFT_TX_TIMEOUT", "120"))
GWEI = 10**9
# The receipt fields both nodes must agree on.
FIELDS = ["transactionHash", "blockHash", "blockNumber", "transactionIndex", "status",
          "gasUsed", "cumulativeGasUsed", "effectiveGasPrice", "from", "to", "logs", "l1Fee"]


class CheckFailed(Exception):
    pass


def ok(name: str, detail: object = "") -> None:
    print(f"ok   {name:<34} {str(detail)[:90]}", flush=True)


def fail(name: str, msg: str) -> None:
    raise CheckFailed(f"FAIL {name:<34} {msg}")


def receipt_fields(receipt) -> dict:
    return {k: receipt.get(k) for k in FIELDS}


def flow(name: str, send_via: Web3, replica: Web3, sequencer: Web3, owner, to: str, value: int):
    """Signs a transfer, sends it through `send_via`, waits for its receipt on both nodes
    (on the replica once it is derived from L1) and checks that they are the same."""
    nonce = replica.eth.get_transaction_count(owner.address)
    base_fee = sequencer.eth.get_block("latest")["baseFeePerGas"]
    signed = owner.sign_transaction({
        "chainId": sequencer.eth.chain_id, "nonce": nonce, "to": to, "value": value,
        "gas": 21_000, "maxFeePerGas": 2 * base_fee + GWEI, "maxPriorityFeePerGas": GWEI,
    })
    tx_hash = send_via.eth.send_raw_transaction(signed.raw_transaction)
    if bytes(tx_hash) != bytes(signed.hash):
        fail(f"{name}-hash", f"node answered {tx_hash.hex()}, the signed hash is {signed.hash.hex()}")
    ok(f"{name}-accepted", "0x" + bytes(tx_hash).hex())
    got = {}
    for label, node in (("sequencer", sequencer), ("replica", replica)):
        try:
            got[label] = node.eth.wait_for_transaction_receipt(
                tx_hash, timeout=TX_TIMEOUT, poll_latency=0.25)
        except Exception as e:  # TimeExhausted and transport errors
            fail(f"{name}-receipt-{label}", f"no receipt for 0x{bytes(tx_hash).hex()}: {e}")
        ok(f"{name}-receipt-{label}", f"block {got[label]['blockNumber']}")
    a, b = receipt_fields(got["sequencer"]), receipt_fields(got["replica"])
    if a != b:
        fail(f"{name}-same-receipt", f"sequencer {a} != replica {b}")
    if a["status"] != 1:
        fail(f"{name}-status", f"status {a['status']}")
    ok(f"{name}-same-receipt", f"status 1, gas {a['gasUsed']}, block {a['blockNumber']}")
    tx_r = replica.eth.get_transaction(tx_hash)
    tx_s = sequencer.eth.get_transaction(tx_hash)
    if tx_r["blockHash"] != tx_s["blockHash"] or tx_r["nonce"] != nonce:
        fail(f"{name}-same-transaction", f"{tx_r} != {tx_s}")
    ok(f"{name}-same-transaction", f"nonce {nonce}")
    return signed


def main() -> int:
    replica = Web3(Web3.HTTPProvider(REPLICA_URL, request_kwargs={"timeout": 30}))
    sequencer = Web3(Web3.HTTPProvider(SEQUENCER_URL, request_kwargs={"timeout": 30}))
    owner = Account.from_key(PRIVATE_KEY)
    to = Account.create().address
    if replica.eth.chain_id != sequencer.eth.chain_id:
        fail("chain-id", f"replica {replica.eth.chain_id}, sequencer {sequencer.eth.chain_id}")
    ok("chain-id", replica.eth.chain_id)

    first = flow("via-replica", replica, replica, sequencer, owner, to, 10**15)
    flow("via-sequencer", sequencer, replica, sequencer, owner, to, 2 * 10**15)
    balance = (replica.eth.get_balance(to), sequencer.eth.get_balance(to))
    if balance != (3 * 10**15, 3 * 10**15):
        fail("recipient-balance", f"replica, sequencer: {balance}")
    ok("recipient-balance", balance[0])

    # A replayed transaction: the replica's answer is the sequencer's, code and message.
    raw = "0x" + bytes(first.raw_transaction).hex()
    errors = [node.provider.make_request("eth_sendRawTransaction", [raw]).get("error")
              for node in (replica, sequencer)]
    if errors[0] is None or errors[0] != errors[1]:
        fail("replay-same-error", f"replica {errors[0]}, sequencer {errors[1]}")
    ok("replay-same-error", errors[0])
    print("web3_replica: all checks passed")
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except CheckFailed as e:
        print(e, flush=True)
        sys.exit(1)
