#!/usr/bin/env bash
# install-tools.sh: installs loft's pinned Ethereum dev tools into ./.tools
# (gitignored). Idempotent: steps already done are skipped.
#
#   .tools/node_modules   npm packages pinned by scripts/tools/package-lock.json:
#                         @foundry-rs/{anvil,forge,cast} 1.7.1, solc (solcjs) 0.8.37,
#                         viem 2.58.8 (tests/clients/viem_e2e.mjs)
#   .tools/bin/           anvil, forge, cast (the native binaries from the
#                         -linux-amd64 / -darwin-* packages), solc (-> scripts/solc-wrapper.sh)
#   .tools/venv           python venv with web3 / eth-account pinned by
#                         scripts/tools/requirements.txt
#
#   qemu-riscv32, riscv64-unknown-elf-gcc
#                         Debian's qemu-user and gcc-riscv64-unknown-elf, with apt when root
#                         (the fault-proof VM's reference)
#
# Needs: node >= 18 with npm, python3 (>= 3.10) with venv support.
# Set LOFT_TOOLS_FORCE=1 to reinstall everything.
set -euo pipefail

root="$(cd "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")/.." && pwd)"
tools="$root/.tools"
pins="$root/scripts/tools"
force="${LOFT_TOOLS_FORCE:-0}"

log() { printf '[install-tools] %s\n' "$*"; }
die() { printf '[install-tools] error: %s\n' "$*" >&2; exit 1; }

command -v node >/dev/null || die "node not found (need node >= 18 with npm)"
command -v npm >/dev/null || die "npm not found"
command -v python3 >/dev/null || die "python3 not found"

hash_of() { cat "$@" | sha256sum | cut -d' ' -f1; }

mkdir -p "$tools/bin"

# ---------------------------------------------------------------- npm tools
npm_stamp="$tools/.npm.stamp"
npm_hash="$(hash_of "$pins/package.json" "$pins/package-lock.json")"
if [[ "$force" != 1 && -f "$npm_stamp" && "$(cat "$npm_stamp")" == "$npm_hash" \
      && -d "$tools/node_modules/solc" ]]; then
  log "npm tools: up to date (skipped)"
else
  log "npm tools: installing from scripts/tools/package-lock.json (npm ci) ..."
  cp "$pins/package.json" "$pins/package-lock.json" "$tools/"
  # --ignore-scripts: the foundry packages' postinstall only re-downloads a
  # binary that the platform package (an optional dependency) already ships.
  (cd "$tools" && npm ci --ignore-scripts --no-audit --no-fund --loglevel=error)
  echo "$npm_hash" > "$npm_stamp"
  log "npm tools: installed"
fi

case "$(uname -s)-$(uname -m)" in
  Linux-x86_64)   plat=linux-amd64 ;;
  Linux-aarch64)  plat=linux-arm64 ;;
  Darwin-x86_64)  plat=darwin-amd64 ;;
  Darwin-arm64)   plat=darwin-arm64 ;;
  *) die "unsupported platform $(uname -s)-$(uname -m)" ;;
esac

for t in anvil forge cast; do
  bin="$tools/node_modules/@foundry-rs/$t-$plat/bin/$t"
  [[ -x "$bin" ]] || die "$bin missing after npm ci (platform package not installed?)"
  # relative links, so the checkout can be moved
  ln -sfn "../node_modules/@foundry-rs/$t-$plat/bin/$t" "$tools/bin/$t"
done
ln -sfn "../../scripts/solc-wrapper.sh" "$tools/bin/solc"
log "bin: .tools/bin/{anvil,forge,cast,solc}"

# ---------------------------------------------------------------- python venv
venv="$tools/venv"
py_stamp="$tools/.venv.stamp"
py_hash="$(hash_of "$pins/requirements.txt")"
if [[ "$force" != 1 && -f "$py_stamp" && "$(cat "$py_stamp")" == "$py_hash" \
      && -x "$venv/bin/python" ]]; then
  log "python venv: up to date (skipped)"
else
  if [[ ! -x "$venv/bin/python" || "$force" == 1 ]]; then
    rm -rf "$venv"
    log "python venv: creating $venv ..."
    if ! python3 -m venv "$venv" 2>/tmp/loft-venv-err.$$; then
      cat /tmp/loft-venv-err.$$ >&2; rm -f /tmp/loft-venv-err.$$
      rm -rf "$venv"
      die "python3 -m venv failed; on Debian/Ubuntu install it with: apt-get install -y python3-venv"
    fi
    rm -f /tmp/loft-venv-err.$$
  fi
  log "python venv: installing scripts/tools/requirements.txt ..."
  "$venv/bin/python" -m pip install --quiet --disable-pip-version-check \
    -r "$pins/requirements.txt"
  echo "$py_hash" > "$py_stamp"
  log "python venv: installed"
fi

# ---------------------------------------------------------------- RISC-V reference
# The fault-proof VM's tests compare it with QEMU's user-mode RISC-V emulator on programs
# assembled by GNU as: Debian's qemu-user and gcc-riscv64-unknown-elf. Installed with apt
# where this runs as root; elsewhere those tests are skipped (CI, as root, has them).
if command -v qemu-riscv32 >/dev/null && command -v riscv64-unknown-elf-gcc >/dev/null; then
  log "riscv: qemu-riscv32 and riscv64-unknown-elf-gcc present (skipped)"
elif [[ "$(id -u)" == 0 ]] && command -v apt-get >/dev/null; then
  log "riscv: installing qemu-user gcc-riscv64-unknown-elf (apt) ..."
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq qemu-user gcc-riscv64-unknown-elf >/dev/null
  log "riscv: installed"
else
  log "riscv: qemu-user and gcc-riscv64-unknown-elf missing (apt-get install them as root); the fault VM's QEMU tests will skip"
fi

# ---------------------------------------------------------------- summary
log "anvil: $("$tools/bin/anvil" --version | head -n1)"
log "forge: $("$tools/bin/forge" --version | head -n1)"
log "cast:  $("$tools/bin/cast" --version | head -n1)"
log "solc:  $("$tools/bin/solc" --version | tail -n1) (solcjs via scripts/solc-wrapper.sh)"
log "web3:  $("$venv/bin/python" -c 'import web3, importlib.metadata as m; print(m.version("web3"), "/ eth-account", m.version("eth-account"))')"
command -v qemu-riscv32 >/dev/null && log "qemu:  $(qemu-riscv32 --version | head -n1)"
command -v riscv64-unknown-elf-gcc >/dev/null && log "gcc:   $(riscv64-unknown-elf-gcc --version | head -n1)"
log "done. Add $tools/bin to PATH, or call the tools by path."
