#!/usr/bin/env bash
# Builds the carried bundle for bench/gpu/run.sh: everything the GPU benchmark needs on a host that has
# a GPU driver but no Node, no npm and no network, in one uncompressed .tar of at most 64 MiB:
#   bench.mjs                 bench/gpu/bench.ts and the trainer, bundled by esbuild (+ tfjs's gradient hook)
#   node.xz                   this tree's `node` binary, xz-compressed
#   node_modules/webgpu/      Dawn's node binding: index.js, package.json, dist/linux-x64/dawn.node.xz
#   node_modules/@jsquash/    the JPEG/PNG decoders' .wasm files (read at run time by shared/src/runtime/node.ts)
#   libvulkan1_*.deb          the Vulkan loader, unpacked there only if the host lacks libvulkan.so.1
#   data/{train,val}/<wnid>/  a real-image slice of Imagenette (the epoch repeats it to the full counts)
#   run.sh
# Run from a tree where `npm ci` ran, on linux-x64:
#   bench/gpu/pack.sh [--data DIR] [--train-per-class 60] [--val-per-class 20] [--out FILE]
set -euo pipefail
cd "$(dirname "$0")/../.."

DATA=../shared/data/imagenette
TRAIN_PER_CLASS=60
VAL_PER_CLASS=20
OUT=bench/gpu/out/resnet-edge-gpu-bench.tar
while [ $# -gt 0 ]; do
  case "$1" in
    --data) DATA=$2; shift 2 ;;
    --train-per-class) TRAIN_PER_CLASS=$2; shift 2 ;;
    --val-per-class) VAL_PER_CLASS=$2; shift 2 ;;
    --out) OUT=$2; shift 2 ;;
    *) echo "pack.sh: unknown argument $1 (see the header of bench/gpu/pack.sh)" >&2; exit 1 ;;
  esac
done
LIMIT=$((64 * 1024 * 1024))

[ -d node_modules/webgpu ] || { echo "pack.sh: node_modules/webgpu is missing: run npm ci first" >&2; exit 1; }
[ -f node_modules/webgpu/dist/linux-x64/dawn.node ] || { echo "pack.sh: no dawn.node for linux-x64 in node_modules/webgpu" >&2; exit 1; }
command -v xz >/dev/null || { echo "pack.sh: needs xz (apt-get install xz-utils)" >&2; exit 1; }

stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
b=$stage/bundle
mkdir -p "$b"

echo "bundling bench/gpu/bench.ts"
# ESM with a `require` for the CommonJS parts (tfjs packages); packages with native or run-time-located
# files stay external: webgpu is carried beside it, the others are never loaded by the benchmark.
node_modules/.bin/esbuild bench/gpu/bench.ts --bundle --platform=node --format=esm --target=node20 \
  --outfile="$b/bench.mjs" --log-level=warning \
  --external:webgpu --external:@tensorflow/tfjs-node --external:@tensorflow/tfjs-node-gpu --external:onnxruntime-node \
  '--banner:js=import { createRequire as __cr } from "node:module"; import { fileURLToPath as __fu } from "node:url"; import { dirname as __dn } from "node:path"; const require = __cr(import.meta.url); const __filename = __fu(import.meta.url); const __dirname = __dn(__filename);'
# gradients.ts registers this resolve hook relative to its own module: beside bench.mjs.
cp trainer/src/learner/tfjs-esm-resolve-hook.mjs "$b/"

echo "copying run-time files"
copy() { mkdir -p "$b/$(dirname "$1")"; cp "$1" "$b/$1"; }
copy node_modules/webgpu/package.json
copy node_modules/webgpu/index.js
mkdir -p "$b/node_modules/webgpu/dist/linux-x64"
xz -T0 -9 -c node_modules/webgpu/dist/linux-x64/dawn.node > "$b/node_modules/webgpu/dist/linux-x64/dawn.node.xz"
for f in node_modules/@jsquash/jpeg/package.json node_modules/@jsquash/jpeg/codec/dec/mozjpeg_dec.wasm \
         node_modules/@jsquash/png/package.json node_modules/@jsquash/png/codec/pkg/squoosh_png_bg.wasm; do
  copy "$f"
done
cp bench/gpu/run.sh "$b/"

echo "compressing node $(node --version)"
xz -T0 -9 -c "$(command -v node)" > "$b/node.xz"

echo "fetching libvulkan1"
if ! (cd "$b" && apt-get download libvulkan1 >/dev/null 2>&1); then
  echo "pack.sh: warning: apt-get download libvulkan1 failed; the bundle will need the host's libvulkan.so.1" >&2
fi

if [ -d "$DATA/train" ] && [ -d "$DATA/val" ]; then
  echo "data slice: $TRAIN_PER_CLASS train + $VAL_PER_CLASS val images per class from $DATA"
  for split in train val; do
    n=$([ "$split" = train ] && echo "$TRAIN_PER_CLASS" || echo "$VAL_PER_CLASS")
    for cls in "$DATA/$split"/*/; do
      wnid=$(basename "$cls")
      mkdir -p "$b/data/$split/$wnid"
      mapfile -t files < <(find "$cls" -maxdepth 1 -type f \( -iname '*.jpeg' -o -iname '*.jpg' -o -iname '*.png' \) | sort)
      [ "${#files[@]}" -gt 0 ] && cp "${files[@]:0:$n}" "$b/data/$split/$wnid/"
    done
  done
else
  echo "pack.sh: warning: no Imagenette at $DATA (train/ and val/): the bundle has no data, the epoch will be skipped" >&2
fi

mkdir -p "$(dirname "$OUT")"
tar -C "$b" -cf "$OUT" .
size=$(stat -c %s "$OUT")
echo
(cd "$b" && du -sh bench.mjs node.xz node_modules/webgpu libvulkan1_*.deb data 2>/dev/null) | sed 's/^/  /'
echo "bundle: $OUT, $((size / 1024 / 1024)) MiB ($size bytes; the limit is $LIMIT)"
if [ "$size" -gt "$LIMIT" ]; then
  echo "pack.sh: the bundle is over 64 MiB: lower --train-per-class / --val-per-class" >&2
  exit 1
fi
echo "on the GPU host: bash run.sh $(basename "$OUT")   (run.sh is also inside the bundle)"
