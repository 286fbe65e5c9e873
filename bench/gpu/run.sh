#!/usr/bin/env bash
# Runs the GPU benchmark from the bundle that bench/gpu/pack.sh built, on a host with no Node, no npm
# and no network: needs bash, tar, xz (or python3), and a Vulkan driver (NVIDIA's ICD is mounted into
# a container only when NVIDIA_DRIVER_CAPABILITIES includes "graphics"; check with vulkaninfo --summary).
#   bash run.sh [BUNDLE.tar] [RESULTS.md]
# Defaults: the bundle beside this script (or bench/gpu/out/), results in ./gpu-results.md.
# BENCH_GPU_BUDGET (seconds, default 420) bounds the benchmark itself so the whole run stays under
# 8 minutes; BENCH_GPU_SMOKE=1 runs tiny settings (a check on a CPU driver, not a measurement).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
bundle=${1:-}
if [ -z "$bundle" ]; then
  for c in "$here/resnet-edge-gpu-bench.tar" "$here/out/resnet-edge-gpu-bench.tar"; do [ -f "$c" ] && bundle=$c && break; done
fi
[ -n "$bundle" ] && [ -f "$bundle" ] || { echo "run.sh: no bundle: pass the .tar that bench/gpu/pack.sh built" >&2; exit 1; }
results=$(cd "$(dirname "${2:-gpu-results.md}")" && pwd)/$(basename "${2:-gpu-results.md}")

work=$(mktemp -d "${TMPDIR:-/tmp}/resnet-edge-gpu.XXXXXX")
trap 'rm -rf "$work"' EXIT
t0=$(date +%s)
tar -xf "$bundle" -C "$work"

unxz_to() { # file.xz -> file
  if command -v xz >/dev/null; then xz -dc "$1" > "$2"
  else python3 -c 'import lzma, shutil, sys; shutil.copyfileobj(lzma.open(sys.argv[1]), open(sys.argv[2], "wb"))' "$1" "$2"; fi
  rm -f "$1"
}
unxz_to "$work/node.xz" "$work/node"
chmod +x "$work/node"
unxz_to "$work/node_modules/webgpu/dist/linux-x64/dawn.node.xz" "$work/node_modules/webgpu/dist/linux-x64/dawn.node"

# The Vulkan loader: the host's when it has one, else the carried .deb.
if ! { ldconfig -p 2>/dev/null || true; } | grep -q 'libvulkan\.so\.1'; then
  deb=$(ls "$work"/libvulkan1_*.deb 2>/dev/null | head -n 1 || true)
  if [ -n "$deb" ]; then
    mkdir -p "$work/vulkan"
    if command -v dpkg-deb >/dev/null; then dpkg-deb -x "$deb" "$work/vulkan"
    else (cd "$work/vulkan" && ar x "$deb" && tar -xf data.tar.*); fi
    export LD_LIBRARY_PATH="$work/vulkan/usr/lib/x86_64-linux-gnu${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
    echo "libvulkan.so.1: from the bundle ($(basename "$deb"))"
  else
    echo "run.sh: warning: the host has no libvulkan.so.1 and the bundle carries none: Dawn will find no Vulkan adapter" >&2
  fi
fi
if [ -e /dev/nvidia0 ] && ! ls /usr/share/vulkan/icd.d/nvidia_icd*.json /etc/vulkan/icd.d/nvidia_icd*.json >/dev/null 2>&1; then
  echo "run.sh: warning: an NVIDIA GPU is visible but no NVIDIA Vulkan ICD (nvidia_icd.json): in a container set NVIDIA_DRIVER_CAPABILITIES=compute,utility,graphics (or all)" >&2
fi
echo "unpacked in $(( $(date +%s) - t0 )) s; node $("$work/node" --version)"

cd "$work"
data_args=()
[ -d "$work/data/train" ] && data_args=(--data "$work/data")
"$work/node" bench.mjs "${data_args[@]}" --out "$results" --budget "${BENCH_GPU_BUDGET:-420}"
echo "run.sh: done in $(( $(date +%s) - t0 )) s; results in $results"
