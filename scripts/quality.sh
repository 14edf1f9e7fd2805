#!/usr/bin/env bash
# Reproduces the quality numbers of the README: DIM(L), JSD, 512 MI units, batch 64.
#   1. Fashion-MNIST, trained up to the last of EPOCHS (default "1 3 6 10"), with a linear
#      probe evaluation after each listed epoch (eval-epochE.json);
#   2. MNIST, 1 epoch, evaluated;
#   3. randomly initialised encoders on both data sets, evaluated the same way (baselines).
# Usage: scripts/quality.sh [OUT] [EPOCHS...]      (DIM=path/to/dim to use a built binary)
set -euo pipefail
out=${1:-runs}; shift || true
epochs=${*:-1 3 6 10}
dim=${DIM:-go run ./cmd/dim}
mkdir -p "$out"
resume=""
for e in $epochs; do
  $dim train --data fashion-mnist --out "$out/fmnist" --epochs "$e" --mi-units 512 $resume --eval 2>&1 | tail -4
  cp "$out/fmnist/eval.json" "$out/fmnist/eval-epoch$e.json"
  resume="--resume"
done
$dim train --data mnist --out "$out/mnist" --epochs 1 --mi-units 512 --eval 2>&1 | tail -4
$dim eval --random --data fashion-mnist --out "$out/random-fmnist" 2>&1 | tail -4
$dim eval --random --data mnist --out "$out/random-mnist" 2>&1 | tail -4
