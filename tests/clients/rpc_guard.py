#!/usr/bin/env python3
"""rpc_guard.py: a JSON-RPC proxy that only lets standard methods through.

    python3 tests/clients/rpc_guard.py --listen 127.0.0.1:18546 --upstream http://127.0.0.1:18545

Forwards eth_*, net_* and web3_* calls (single and batch) to the upstream node and
answers every other method (anvil_*, evm_*, hardhat_*, debug_*, ...) with JSON-RPC
error -32601 "Method not found", the way a node without them would. Point the client
tests at the proxy to prove they only depend on standard methods; on exit (SIGINT /
SIGTERM) it prints how often each method was called, and --stats FILE writes that
as JSON after every request. Standard library only.
"""

import argparse
import json
import signal
import sys
import threading
import urllib.request
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

ALLOWED_PREFIXES = ("eth_", "net_", "web3_")

calls: Counter = Counter()
blocked: Counter = Counter()
lock = threading.Lock()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--listen", default="127.0.0.1:18546")
    ap.add_argument("--upstream", default="http://127.0.0.1:8545")
    ap.add_argument("--stats", help="write method counts as JSON to this file")
    args = ap.parse_args()
    host, port = args.listen.rsplit(":", 1)

    def write_stats() -> None:
        if args.stats:
            with open(args.stats, "w") as fh:
                json.dump({"forwarded": dict(sorted(calls.items())),
                           "blocked": dict(sorted(blocked.items()))}, fh, indent=2)

    def forward(body: bytes) -> bytes:
        req = urllib.request.Request(args.upstream, data=body,
                                     headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=60) as resp:
            return resp.read()

    def handle_one(msg: dict):
        method = msg.get("method", "")
        if not isinstance(method, str) or not method.startswith(ALLOWED_PREFIXES):
            with lock:
                blocked[str(method)] += 1
            if "id" not in msg:
                return None
            return {"jsonrpc": "2.0", "id": msg.get("id"),
                    "error": {"code": -32601, "message": f"Method not found: {method}"}}
        with lock:
            calls[method] += 1
        return json.loads(forward(json.dumps(msg).encode()))

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            try:
                payload = json.loads(body)
                if isinstance(payload, list):
                    out = [r for r in (handle_one(m) for m in payload) if r is not None]
                else:
                    out = handle_one(payload)
                data = json.dumps(out).encode()
                status = 200
            except Exception as e:  # malformed request or upstream down
                data = json.dumps({"jsonrpc": "2.0", "id": None,
                                   "error": {"code": -32603, "message": str(e)}}).encode()
                status = 500
            write_stats()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *a) -> None:  # quiet
            pass

    server = ThreadingHTTPServer((host, int(port)), Handler)

    def stop(*_):
        threading.Thread(target=server.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    print(f"rpc_guard: {args.listen} -> {args.upstream} (only {', '.join(ALLOWED_PREFIXES)}*)",
          file=sys.stderr, flush=True)
    server.serve_forever()
    write_stats()
    for m, n in sorted(calls.items()):
        print(f"rpc_guard: forwarded {m} x{n}", file=sys.stderr)
    for m, n in sorted(blocked.items()):
        print(f"rpc_guard: BLOCKED   {m} x{n}", file=sys.stderr)


if __name__ == "__main__":
    main()
