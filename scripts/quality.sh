#!/usr/bin/env bash
# Reproduces the quality numbers of the README: DIM(L), JSD, 512 MI units, batch 64 on
# Fashion-MNIST (epochs 1..E, a linear probe after each) and MNIST (1 epoch), plus the
# randomly initialised encoder as a baseline. Usage: scripts/quality.sh [EPOCHS] [OUT]
set -euo pipefail
epochs=${1:-3}
out=${2:-runs}
dim=${DIM:-go run ./cmd/dim}
mkdir -p "$out"
$dim eval --random --data fashion-mnist --out "$out/random-fmnist" 2>&1 | tail -4
for e in $(seq 1 "$epochs"); do
  resume=""; [ "$e" -gt 1 ] && resume="--resume"
  $dim train --data fashion-mnist --out "$out/fmnist" --epochs "$e" --mi-units 512 $resume --eval 2>&1 | tail -4
  cp "$out/fmnist/eval.json" "$out/fmnist/eval-epoch$e.json"
done
$dim train --data mnist --out "$out/mnist" --epochs 1 --mi-units 512 --eval 2>&1 | tail -4
