#!/usr/bin/env bash
# The CIFAR-10 ablation of the README (the layout of the paper's Tables 1 and 4): the basic32x32
# encoder trained with each objective for the same number of epochs, then a linear probe on
# frozen conv / fc / Y features; a randomly initialised encoder as the baseline.
#
# Usage: scripts/cifar_ablation.sh CIFAR_DIR [OUT] [EPOCHS] [ROW...]
#   CIFAR_DIR: ../shared/data/cifar10-jpg.tar.gz extracted (train/<class>, test/<class>)
#   OUT: runs/cifar (default); EPOCHS: 3 (default); ROWs: all below (default)
#   DIM=path/to/dim uses a built binary (default: go run ./cmd/dim).
# It resumes: a row whose eval.json exists is skipped, a row with a checkpoint continues.
# Table 4's rows (coordinates, occlusion) use infoNCE as the paper's. Every row: --mi-units 512, batch 64, Adam 1e-4, seed 0, per-channel normalisation, random
# crops of 32 after padding by 4, horizontal flips.
set -euo pipefail
data=${1:?usage: scripts/cifar_ablation.sh CIFAR_DIR [OUT] [EPOCHS] [ROW...]}
out=${2:-runs/cifar}
epochs=${3:-3}
shift $(( $# < 3 ? $# : 3 ))
dim=${DIM:-go run ./cmd/dim}
declare -A rows=(
  [dim-l-jsd]="--beta 1 --measure jsd"
  [dim-l-nce]="--beta 1 --measure nce"
  [dim-l-dv]="--beta 1 --measure dv"
  [dim-l-jsd-prior]="--beta 1 --gamma 0.1 --measure jsd"
  [dim-g]="--alpha 1 --beta 0 --gamma 1 --measure jsd"
  [dim-lg]="--alpha 0.5 --beta 0.1 --measure jsd"
  [dim-l-nce-coord]="--beta 1 --measure nce --coordinates abs"
  [dim-l-nce-occlude]="--beta 1 --measure nce --occlude"
  [dim-l-nce-coord-occlude]="--beta 1 --measure nce --coordinates abs --occlude"
)
order=(random dim-l-jsd dim-l-nce dim-l-dv dim-l-jsd-prior dim-g dim-lg dim-l-nce-coord dim-l-nce-occlude dim-l-nce-coord-occlude)
[ $# -gt 0 ] && order=("$@")
common="--data folder:$data --arch basic32x32 --mi-units 512 --normalize --crop 32 --pad 4 --flip --log-every 50"
mkdir -p "$out"
for row in "${order[@]}"; do
  dir="$out/$row"
  if [ -f "$dir/eval.json" ]; then echo "$row: done"; continue; fi
  echo "$row: $(date -u +%H:%M:%S)"
  if [ "$row" = random ]; then
    $dim eval --random --data "folder:$data" --out "$dir" 2>&1 | tail -5
    continue
  fi
  resume=""
  [ -f "$dir/model.safetensors" ] && resume="--resume"
  $dim train $common --out "$dir" --epochs "$epochs" $resume ${rows[$row]} --eval 2>&1 | grep -v '^train: step' | tail -6
done
