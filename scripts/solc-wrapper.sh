#!/usr/bin/env bash
# solc-wrapper.sh: makes solcjs (npm package `solc`, a WebAssembly build of
# solc) look enough like native `solc` for forge (`forge build --use PATH`).
#
# forge only needs two things from the compiler binary:
#   solc --version          -> the two lines native solc prints
#   solc --standard-json .. -> Standard JSON in on stdin, Standard JSON out
# Sources are passed inline in the Standard JSON input, so the path options
# forge adds (--base-path, --include-path, --allow-paths) are not needed and
# are ignored. solcjs prints a ">>> Cannot retry compilation with SMT ..."
# line before its JSON; it is dropped so the output parses.
# solcjs calls process.exit() right after console.log(output); when stdout is
# a pipe node writes asynchronously and large outputs get cut off (forge then
# fails with "EOF while parsing"), so its output goes to a temp file first
# (node writes files synchronously).
# Likewise solcjs reads its input with readFileSync(0): on a pipe that forge is
# still writing, node can get EAGAIN and exit (forge then reports "Broken pipe"),
# so the input is first copied to a temp file that becomes node's stdin.
#
# install-tools.sh links this as .tools/bin/solc. LOFT_SOLCJS overrides the
# solcjs entry point (default: .tools/node_modules/solc/solc.js).
set -euo pipefail

self="$(readlink -f "${BASH_SOURCE[0]}")"
root="$(cd "$(dirname "$self")/.." && pwd)"
solcjs="${LOFT_SOLCJS:-$root/.tools/node_modules/solc/solc.js}"

if [[ ! -f "$solcjs" ]]; then
  echo "solc-wrapper: solcjs not found at $solcjs (run scripts/install-tools.sh)" >&2
  exit 127
fi

for arg in "$@"; do
  case "$arg" in
    --version|-V)
      echo "solc, the solidity compiler commandline interface"
      echo "Version: $(node "$solcjs" --version)"
      exit 0
      ;;
  esac
done

standard_json=0
for arg in "$@"; do
  [[ "$arg" == "--standard-json" ]] && standard_json=1
done
if [[ $standard_json -ne 1 ]]; then
  echo "solc-wrapper: only --version and --standard-json are supported (got: $*)" >&2
  exit 2
fi

tmp="$(mktemp "${TMPDIR:-/tmp}/loft-solcjs.XXXXXX")"
input="$(mktemp "${TMPDIR:-/tmp}/loft-solcjs-in.XXXXXX")"
trap 'rm -f "$tmp" "$input"' EXIT
cat >"$input"
status=0
node "$solcjs" --standard-json <"$input" >"$tmp" || status=$?
sed '/^>>>/d' "$tmp"
exit "$status"
