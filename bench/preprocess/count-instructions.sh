#!/usr/bin/env bash
# Instructions per call of one preprocessing stage, counted by callgrind: robust on a shared, loaded machine
# where wall and CPU times are not. Runs bench/preprocess/instructions.ts (bundled by esbuild, so tsx's loader
# is not counted) with n = 0 and n = N calls after the same warm-up, and prints (Ir(N) - Ir(0)) / N.
#   bench/preprocess/count-instructions.sh [all|decode|ops] [N=20]      (about 2-5 minutes per stage)
# The input is the bench's 500x375 JPEG, written to $INPUT (default /tmp/bench-500x375.jpg) on first use.
set -euo pipefail
cd "$(dirname "$0")/../.."
stage=${1:-all}
n=${2:-20}
input=${INPUT:-/tmp/bench-500x375.jpg}
bundle=node_modules/.cache/preprocess-instructions.mjs
mkdir -p node_modules/.cache
[ -f "$input" ] || npx tsx bench/preprocess/instructions.ts --write-input "$input"
npx esbuild bench/preprocess/instructions.ts --bundle --platform=node --format=esm --outfile="$bundle" --external:@jsquash/* --log-level=warning
count() {
  valgrind --tool=callgrind --callgrind-out-file=/dev/null node "$bundle" --input "$input" --stage "$stage" --n "$1" --warmup "${WARMUP:-20}" 2>&1 |
    grep -o 'refs: *[0-9,]*' | tr -dc 0-9
}
base=$(count 0)
total=$(count "$n")
echo "$stage: $(( (total - base) / n )) instructions per call (callgrind Ir, n=$n: $total - n=0: $base)"
