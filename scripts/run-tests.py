#!/usr/bin/env python3
"""Builds every Rust test executable of the workspace, then runs them two at a time.

    scripts/run-tests.py [CARGO ARGS] [-- TEST ARGS]

`cargo test` runs its test executables one after another. Several of loft's wait on
wall-clock windows (an L2 block time, a challenge window, a process coming up) while using
little CPU, and the machine's two cores sat idle under them; here they run beside the
proving ones. Each executable runs as `cargo test` runs it (in its package's folder, with
CARGO_MANIFEST_DIR set), its output is printed whole once it ends, and the script fails when
any test fails. LOFT_TEST_JOBS sets how many run at once (default: 2).
"""

import json
import os
import subprocess
import sys
import threading
import time


def build(cargo_args):
    """Builds the test executables; returns (name, executable, package folder) of each."""
    cmd = ["cargo", "test", "--workspace", "--no-run", "--message-format=json-render-diagnostics"]
    proc = subprocess.Popen(cmd + cargo_args, stdout=subprocess.PIPE, text=True)
    found = []
    for line in proc.stdout:
        msg = json.loads(line)
        if msg.get("reason") == "compiler-artifact" and msg.get("executable") and msg["profile"]["test"]:
            folder = os.path.dirname(msg["manifest_path"])
            name = f"{msg['package_id'].split('#')[0].rsplit('/', 1)[-1]}::{msg['target']['name']}"
            found.append((name, msg["executable"], folder))
    if proc.wait() != 0:
        sys.exit(proc.returncode)
    return found


def main():
    args = sys.argv[1:]
    cargo_args, test_args = (args[: args.index("--")], args[args.index("--") + 1 :]) if "--" in args else (args, [])
    executables = build(cargo_args)
    # The longest first, so that the short ones fill in at the end: the two that prove the most
    # (measured: some 200 s each when run beside another), then the other integration tests.
    longest = ["cli::it", "zk-node::it"]
    executables.sort(key=lambda e: (e[0] not in longest, not e[0].endswith("::it"), e[0]))
    jobs = int(os.environ.get("LOFT_TEST_JOBS", "2"))
    pending = list(executables)
    failed = []
    lock = threading.Lock()

    def worker():
        while True:
            with lock:
                if not pending:
                    return
                name, exe, folder = pending.pop(0)
            start = time.monotonic()
            env = dict(os.environ, CARGO_MANIFEST_DIR=folder)
            run = subprocess.run([exe] + test_args, cwd=folder, env=env, stdout=subprocess.PIPE,
                                 stderr=subprocess.STDOUT, text=True, errors="replace")
            took = time.monotonic() - start
            with lock:
                print(f"\n== {name} ({os.path.relpath(exe)}): {took:.1f} s, "
                      f"{'ok' if run.returncode == 0 else 'FAILED'} ==", flush=True)
                print(run.stdout, end="", flush=True)
                if run.returncode != 0:
                    failed.append(name)

    threads = [threading.Thread(target=worker) for _ in range(max(jobs, 1))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    print(f"\n{len(executables)} test executables, {len(failed)} failed{': ' + ', '.join(failed) if failed else ''}")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
