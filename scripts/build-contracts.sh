#!/usr/bin/env bash
# build-contracts.sh: compiles contracts/ from scratch and regenerates the
# committed artifacts in contracts/artifacts/<Name>.json
# ({abi, bytecode, deployedBytecode}). Commit the result.
# Needs scripts/install-tools.sh to have run.
set -euo pipefail
root="$(cd "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")/.." && pwd)"

"$root/scripts/forge.sh" build --force
python3 "$root/scripts/extract-artifacts.py" \
  "$root/contracts/out" "$root/contracts/src" "$root/contracts/artifacts"
