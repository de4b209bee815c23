#!/usr/bin/env bash
# Builds the CPU test ROM guests/cputest/cputest.rom (64 KiB, flat) from cputest.asm.
set -euo pipefail
cd "$(dirname "$0")"
nasm -f bin -I ./ -o cputest.rom cputest.asm
