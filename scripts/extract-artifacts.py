#!/usr/bin/env python3
"""Extract {abi, bytecode, deployedBytecode} artifacts from forge's out/ directory.

usage: extract-artifacts.py OUT_DIR SRC_DIR DEST_DIR

For every contract defined in SRC_DIR/*.sol (forge writes OUT_DIR/<File>.sol/<Name>.json),
writes DEST_DIR/<Name>.json holding exactly:

    {"abi": [...], "bytecode": "0x...", "deployedBytecode": "0x..."}

(2-space indented, keys in that order, trailing newline), the shape that alloy's
`sol!(Name, "path.json")`, web3.py, ethers and viem accept. Stale *.json files in
DEST_DIR are removed. Standard library only.
"""

import json
import os
import sys


def die(msg: str) -> None:
    print(f"extract-artifacts: error: {msg}", file=sys.stderr)
    sys.exit(1)


def hex_of(obj, what: str, path: str) -> str:
    code = obj.get("object") if isinstance(obj, dict) else obj
    if not isinstance(code, str):
        die(f"{path}: no {what}.object")
    if not code.startswith("0x"):
        code = "0x" + code
    if "__$" in code:
        die(f"{path}: {what} has unlinked library placeholders")
    return code


def main() -> None:
    if len(sys.argv) != 4:
        die("usage: extract-artifacts.py OUT_DIR SRC_DIR DEST_DIR")
    out_dir, src_dir, dest_dir = sys.argv[1:]
    sources = sorted(f for f in os.listdir(src_dir) if f.endswith(".sol"))
    if not sources:
        die(f"no .sol files in {src_dir}")

    artifacts = {}
    for src in sources:
        d = os.path.join(out_dir, src)
        if not os.path.isdir(d):
            die(f"{d} missing (did forge build run?)")
        for f in sorted(os.listdir(d)):
            if not f.endswith(".json"):
                continue
            path = os.path.join(d, f)
            with open(path) as fh:
                art = json.load(fh)
            name = f[: -len(".json")]
            # forge names files <Name>.<version>.json when several compilers built the
            # same contract; we pin one compiler, so that would be a misconfiguration.
            if "." in name:
                die(f"{path}: unexpected versioned artifact name")
            if name in artifacts:
                die(f"contract name {name} defined in two source files")
            bytecode = hex_of(art.get("bytecode"), "bytecode", path)
            deployed = hex_of(art.get("deployedBytecode"), "deployedBytecode", path)
            if bytecode == "0x":
                continue  # interfaces and abstract contracts have no code
            artifacts[name] = {
                "abi": art.get("abi", []),
                "bytecode": bytecode,
                "deployedBytecode": deployed,
            }

    os.makedirs(dest_dir, exist_ok=True)
    for f in os.listdir(dest_dir):
        if f.endswith(".json") and f[:-5] not in artifacts:
            os.remove(os.path.join(dest_dir, f))
            print(f"removed stale {f}")
    for name, art in sorted(artifacts.items()):
        path = os.path.join(dest_dir, name + ".json")
        with open(path, "w") as fh:
            json.dump(art, fh, indent=2)
            fh.write("\n")
        print(
            f"{name}.json: {len(art['abi'])} abi items, "
            f"bytecode {(len(art['bytecode']) - 2) // 2} B, "
            f"deployed {(len(art['deployedBytecode']) - 2) // 2} B"
        )


if __name__ == "__main__":
    main()
