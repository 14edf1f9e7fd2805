#!/usr/bin/env bash
# Side-by-side timing of deepinfomax and its PyTorch peer (scripts/torch_peer.py), alternated in
# the same minutes: the DIM(L) training step (batch 64, JSD) at each MI width, and the encoder's
# inference (dim embed's path) in images per second, for basic28x28 and basic32x32. Run it on an
# otherwise idle machine; it prints one line per measurement and, at the end, the medians with
# their ranges, the median of the rounds' own ratios (a round pairs our run with the peer's run
# just after it) and how many rounds reach issue #14's bars. Our steps run with dim bench
# --peak, so each also gives its share of the machine's peak measured in the same seconds
# ("peak" lines: percent, and the peak in GFLOP/s).
#
# Usage: scripts/bench_peers.sh [ROUNDS] [MI_UNITS...]     (defaults: 3 rounds; 512 2048)
#   DIM=path/to/dim uses a built binary (default: go build ./cmd/dim into a temp dir).
# Needs Debian's python3-torch and libopenblas0-pthread; the peer re-runs itself without this
# machine's OpenBLAS pins (OPENBLAS_CORETYPE, OPENBLAS_L2_SIZE), as on a user's machine.
set -euo pipefail
rounds=${1:-3}
case $rounds in
  '' | *[!0-9]* | 0) echo "usage: $0 [ROUNDS] [MI_UNITS...] (ROUNDS a positive integer, got '$rounds')" >&2; exit 2 ;;
esac
shift $(( $# > 0 ? 1 : 0 ))
units=()
for u in "${@:-512 2048}"; do
  for w in ${u//,/ }; do  # "512,2048" as dim bench takes it, or separate words
    case $w in
      '' | *[!0-9]*) echo "MI units must be positive integers, got '$w'" >&2; exit 2 ;;
    esac
    units+=("$w")
  done
done
dim=${DIM:-}
if [ -n "$dim" ]; then
  dim=$(cd "$(dirname "$dim")" && pwd)/$(basename "$dim")  # before the cd below
fi
cd "$(dirname "$0")/.."
if [ -z "$dim" ]; then
  dim=$(mktemp -d)/dim
  go build -o "$dim" ./cmd/dim
fi
log=$(mktemp)
for r in $(seq "$rounds"); do
  for arch in basic28x28 basic32x32; do
    for u in "${units[@]}"; do
      res=$("$dim" bench --arch "$arch" --mi-units "$u" --steps 20 --peak --json |
        python3 -c 'import json,sys; r = json.load(sys.stdin); print(r["median_ms"], round(r["pct_of_peak"], 1), round(r["peak_gflops"]))')
      read -r ms pct peak <<<"$res"
      echo "step $arch $u deepinfomax $ms" | tee -a "$log"
      echo "peak $arch $u $pct $peak" | tee -a "$log"
      ms=$(python3 scripts/torch_peer.py time --arch "$arch" --mi-units "$u" --steps 20 --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["median_ms"])')
      echo "step $arch $u torch $ms" | tee -a "$log"
    done
    ips=$("$dim" bench --embed --arch "$arch" --steps 8 --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["images_per_s"])')
    echo "embed $arch - deepinfomax $ips" | tee -a "$log"
    ips=$(python3 scripts/torch_peer.py embed --arch "$arch" --steps 8 --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["images_per_s"])')
    echo "embed $arch - torch $ips" | tee -a "$log"
  done
done
echo "medians over $rounds rounds (step: ms per step, lower is better; embed: images/s, higher is better),"
echo "each round's own ratio, and the rounds at issue #14's bars (steps 2x faster, inference 1.5x, 50% of the peak):"
python3 - "$log" <<'EOF'
import collections, statistics, sys
v = collections.defaultdict(list)
share = collections.defaultdict(list)
for line in open(sys.argv[1]):
    kind, arch, u, a, b = line.split()
    if kind == "peak":
        share[(arch, u)].append((float(a), float(b)))
        continue
    v[(kind, arch, u, a)].append(float(b))
def span(xs):
    return f"{min(xs):.1f}-{max(xs):.1f}"
for (kind, arch, u, who) in sorted({k[:3] + ("",) for k in v}):
    ours, peer = v[(kind, arch, u, "deepinfomax")], v[(kind, arch, u, "torch")]
    mo, mp = statistics.median(ours), statistics.median(peer)
    # A round pairs our run with the peer's run just after it.
    if kind == "step":
        ratio, rounds, bar = mp / mo, [p / o for o, p in zip(ours, peer)], 2.0
    else:
        ratio, rounds, bar = mo / mp, [o / p for o, p in zip(ours, peer)], 1.5
    unit = "ms/step" if kind == "step" else "images/s"
    label = f"{kind} {arch}" + (f" mi-units={u}" if u != "-" else "")
    print(f"{label:34s} deepinfomax {mo:8.1f} ({span(ours)})  torch {mp:8.1f} ({span(peer)}) {unit}  -> {ratio:.2f}x;"
          f" rounds {statistics.median(rounds):.2f}x ({min(rounds):.2f}-{max(rounds):.2f}),"
          f" {sum(r >= bar for r in rounds)} of {len(rounds)} at {bar:g}x or more")
for (arch, u), xs in sorted(share.items()):
    pcts, peaks = [p for p, _ in xs], [g for _, g in xs]
    print(f"{'step ' + arch + ' mi-units=' + u:34s} deepinfomax at {statistics.median(pcts):.1f}% of the peak"
          f" measured around it ({span(pcts)}%; {sum(p >= 50 for p in pcts)} of {len(pcts)} rounds at 50% or more;"
          f" peak {statistics.median(peaks):.0f} GFLOP/s, {min(peaks):.0f}-{max(peaks):.0f})")
    print(f"{'':34s} rounds: " + ", ".join(f"{p:.1f}" for p in pcts))
EOF
