#!/usr/bin/env bash
# build-guests.sh: builds the programs that run on the fault-proof VM, for its tests:
# loft-fault-guest's examples, for riscv32imac-unknown-none-elf (no std, no OS), into
# target/riscv32imac-unknown-none-elf/bare/examples/. Adds the rustup target if missing.
set -euo pipefail
root="$(cd "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")/.." && pwd)"
cd "$root"
target=riscv32imac-unknown-none-elf
if command -v rustup >/dev/null && ! rustup target list --installed | grep -qx "$target"; then
  rustup target add "$target"
fi
# Only this package is selected: `--examples` would bring in the dev-dependencies (with std)
# of every package it names.
cargo build --locked --profile bare --target "$target" -p loft-fault-guest --features examples --examples
