#!/usr/bin/env bash
# forge.sh: runs the pinned forge on contracts/ with the solcjs wrapper as compiler.
#   scripts/forge.sh build | test [-vvv] [--match-test NAME] | fmt [--check] | lint | ...
# Equivalent to
#   cd contracts && ../.tools/bin/forge <cmd> --use "$PWD/../.tools/bin/solc" --offline ...
# but through the environment (FOUNDRY_SOLC, FOUNDRY_OFFLINE), so it applies to
# every subcommand that compiles (build, test, lint, inspect, script, ...).
set -euo pipefail
root="$(cd "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")/.." && pwd)"
forge="$root/.tools/bin/forge"
solc="$root/.tools/bin/solc"
[[ -x "$forge" && -x "$solc" ]] || { echo "forge.sh: tools missing; run scripts/install-tools.sh" >&2; exit 127; }

export FOUNDRY_SOLC="$solc" FOUNDRY_OFFLINE=true
cd "$root/contracts"
exec "$forge" "$@"
