#!/usr/bin/env python3
"""Extract {abi, bytecode, deployedBytecode} artifacts from forge's out/ directory.

usage: extract-artifacts.py OUT_DIR SRC_DIR DEST_DIR

For every contract defined in SRC_DIR/**/*.sol (subdirectories included, e.g.
src/rollup/), writes DEST_DIR/<Name>.json holding exactly:

    {"abi": [...], "bytecode": "0x...", "deployedBytecode": "0x..."}

(2-space indented, keys in that order, trailing newline), the shape that alloy's
`sol!(Name, "path.json")`, web3.py, ethers and viem accept. DEST_DIR stays flat, so
contract names must be unique across SRC_DIR. Forge's artifacts are matched to their
source through `metadata.settings.compilationTarget` (a path relative to the project,
i.e. to SRC_DIR's parent), whatever out/ layout forge picked. Skipped: interfaces and
abstract contracts (no bytecode) and libraries with internal functions only (empty ABI;
their code is inlined into the contracts that use them). Source files that define no
contract (file-level constants and free functions) have no artifact. Stale *.json files
in DEST_DIR are removed. Standard library only.
"""

import json
import os
import re
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


# Runtime code of a library starts with its call protection: PUSH20 <own address>
# (zeros until deployment) ADDRESS EQ.
LIBRARY_PREFIX = "0x73" + "00" * 20 + "30"

# A contract, library or interface definition (to tell "no artifact because nothing is
# defined" from "no artifact because forge did not build it").
DEFINITION = re.compile(r"^\s*(?:abstract\s+)?(?:contract|library|interface)\s+\w+", re.M)


def main() -> None:
    if len(sys.argv) != 4:
        die("usage: extract-artifacts.py OUT_DIR SRC_DIR DEST_DIR")
    out_dir, src_dir, dest_dir = (os.path.normpath(p) for p in sys.argv[1:])
    project_dir = os.path.dirname(src_dir)
    # project-relative path ("src/rollup/X.sol") -> absolute path
    sources = {}
    for dirpath, dirnames, filenames in os.walk(src_dir):
        dirnames.sort()
        for f in sorted(filenames):
            if f.endswith(".sol"):
                path = os.path.join(dirpath, f)
                sources[os.path.relpath(path, project_dir)] = path
    if not sources:
        die(f"no .sol files in {src_dir}")
    if not os.path.isdir(out_dir):
        die(f"{out_dir} missing (did forge build run?)")

    artifacts = {}
    built = set()
    for dirpath, dirnames, filenames in os.walk(out_dir):
        dirnames[:] = sorted(d for d in dirnames if d != "build-info")
        for f in sorted(filenames):
            if not f.endswith(".json"):
                continue
            path = os.path.join(dirpath, f)
            with open(path) as fh:
                art = json.load(fh)
            target = ((art.get("metadata") or {}).get("settings") or {}).get("compilationTarget")
            if not isinstance(target, dict) or len(target) != 1:
                die(f"{path}: no metadata.settings.compilationTarget")
            (source, name), = target.items()
            if source not in sources:
                continue  # a test or script
            built.add(source)
            # forge names files <Name>.<version>.json when several compilers built the
            # same contract; we pin one compiler, so that would be a misconfiguration.
            if f[: -len(".json")] != name:
                die(f"{path}: unexpected artifact name for {name}")
            bytecode = hex_of(art.get("bytecode"), "bytecode", path)
            deployed = hex_of(art.get("deployedBytecode"), "deployedBytecode", path)
            abi = art.get("abi", [])
            if bytecode == "0x":
                continue  # interfaces and abstract contracts have no code
            if not abi and deployed.lower().startswith(LIBRARY_PREFIX):
                continue  # a library of internal functions: inlined where used
            if name in artifacts:
                die(f"contract name {name} defined in two source files")
            artifacts[name] = {
                "abi": abi,
                "bytecode": bytecode,
                "deployedBytecode": deployed,
            }

    for source, path in sorted(sources.items()):
        if source not in built:
            with open(path) as fh:
                if DEFINITION.search(fh.read()):
                    die(f"no artifacts for {source} in {out_dir} (did forge build run?)")

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
