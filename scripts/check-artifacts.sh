#!/usr/bin/env bash
# check-artifacts.sh: rebuilds contracts/ from source in a scratch directory and
# fails (exit 1, with a summary of the differences) when the committed
# contracts/artifacts/*.json differ from what the sources compile to.
# Fix a failure with scripts/build-contracts.sh and commit the result.
# Needs scripts/install-tools.sh to have run.
set -euo pipefail
root="$(cd "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")/.." && pwd)"

scratch="$(mktemp -d "${TMPDIR:-/tmp}/loft-artifacts.XXXXXX")"
trap 'rm -rf "$scratch"' EXIT

echo "check-artifacts: compiling contracts/src into $scratch ..."
"$root/scripts/forge.sh" build --force --skip test \
  --out "$scratch/out" --cache-path "$scratch/cache" >"$scratch/build.log" 2>&1 || {
  cat "$scratch/build.log" >&2
  echo "check-artifacts: forge build failed" >&2
  exit 1
}
python3 "$root/scripts/extract-artifacts.py" \
  "$scratch/out" "$root/contracts/src" "$scratch/artifacts" >/dev/null

python3 - "$root/contracts/artifacts" "$scratch/artifacts" <<'EOF'
import json, os, sys

committed_dir, fresh_dir = sys.argv[1:]
names = lambda d: {f for f in os.listdir(d) if f.endswith(".json")} if os.path.isdir(d) else set()
committed, fresh = names(committed_dir), names(fresh_dir)
problems = []
for f in sorted(fresh - committed):
    problems.append(f"{f}: missing from contracts/artifacts/ (new contract?)")
for f in sorted(committed - fresh):
    problems.append(f"{f}: committed but no longer built from contracts/src/")
for f in sorted(committed & fresh):
    a_raw = open(os.path.join(committed_dir, f), "rb").read()
    b_raw = open(os.path.join(fresh_dir, f), "rb").read()
    if a_raw == b_raw:
        print(f"  ok    {f}")
        continue
    try:
        a = json.loads(a_raw)
    except ValueError as e:
        problems.append(f"{f}: committed file is not valid JSON ({e})")
        continue
    b = json.loads(b_raw)
    diffs = []
    if list(a.keys()) != list(b.keys()):
        diffs.append(f"keys {list(a.keys())} != {list(b.keys())}")
    if a.get("abi") != b.get("abi"):
        sig = lambda it: f"{it.get('type')} {it.get('name', '')}({','.join(i.get('type', '?') for i in it.get('inputs', []))})"
        sa = {sig(i) for i in a.get("abi", [])}
        sb = {sig(i) for i in b.get("abi", [])}
        detail = [f"+{s}" for s in sorted(sb - sa)] + [f"-{s}" for s in sorted(sa - sb)]
        diffs.append("abi differs" + (": " + ", ".join(detail) if detail else " (outputs/order/attributes)"))
    for k in ("bytecode", "deployedBytecode"):
        x, y = a.get(k) or "", b.get(k) or ""
        if x != y:
            n = next((i for i, (p, q) in enumerate(zip(x, y)) if p != q), min(len(x), len(y)))
            diffs.append(f"{k} differs: committed {max(len(x) - 2, 0) // 2} B, built {max(len(y) - 2, 0) // 2} B, first difference at byte {max(n - 2, 0) // 2}")
    if not diffs:
        diffs.append("formatting differs (same content)")
    problems.append(f"{f}: " + "; ".join(diffs))

if problems:
    print("check-artifacts: committed artifacts are out of date:", file=sys.stderr)
    for p in problems:
        print(f"  FAIL  {p}", file=sys.stderr)
    print("check-artifacts: run scripts/build-contracts.sh and commit contracts/artifacts/", file=sys.stderr)
    sys.exit(1)
print("check-artifacts: committed artifacts match the sources")
EOF
