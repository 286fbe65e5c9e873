#!/usr/bin/env bash
# Rebuild webp_dec.wasm (libwebp's decoder + webp-entry.c) from Debian bookworm's libwebp source package
# with Debian bookworm's emscripten. The output is byte-for-byte reproducible: test/shared/webp.test.ts
# checks its sha256 against WASM_SHA256 below.
#
#   # once: a deb-src entry for bookworm (Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg), then
#   apt-get update && apt-get install -y emscripten dpkg-dev
#   (cd "$SRC_DIR" && apt-get source --download-only libwebp=1.2.4-0.2+deb12u1)
#   bash shared/wasm/webp/build.sh "$SRC_DIR"        # writes shared/wasm/webp/webp_dec.wasm
#
# dpkg-source verifies the .dsc's checksums and applies Debian's patches (CVE-2023-4863 among them).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
src_dir="$(cd "${1:?usage: build.sh DIR-WITH-libwebp_1.2.4-0.2+deb12u1.dsc}" && pwd)"
out="${2:-$here/webp_dec.wasm}"

# The inputs this build was made from (the .dsc lists the tarballs' own checksums).
DSC_SHA256=d9ed0b59e2010f255c28d0869fd15b31f9b08aed757bfc91862d43aa9ec1aa99
ORIG_SHA256=7bf5a8a28cc69bcfa8cb214f2c3095703c6b73ac5fba4d5480c205331d9494df
DEBIAN_SHA256=69cdba4dfe2e1b34d55fa80c1b29c31cacd40dd183812d6bcca7e508a2f7afcd
EMCC_VERSION=3.1.6
# ...and the output it gives (test/shared/webp.test.ts checks the committed file against this line).
WASM_SHA256=7dd08fd4a592f366a38133de4e3956e5c92a2148d8d155880c380697cc475e36

check() { echo "$1  $2" | sha256sum -c --quiet - || { echo "build.sh: $2 is not the expected file" >&2; exit 1; }; }
check "$DSC_SHA256" "$src_dir/libwebp_1.2.4-0.2+deb12u1.dsc"
check "$ORIG_SHA256" "$src_dir/libwebp_1.2.4.orig.tar.gz"
check "$DEBIAN_SHA256" "$src_dir/libwebp_1.2.4-0.2+deb12u1.debian.tar.xz"
emcc --version 2>/dev/null | grep -q " $EMCC_VERSION " || { echo "build.sh: needs emcc $EMCC_VERSION (Debian bookworm's emscripten)" >&2; exit 1; }

# A scratch directory; the output does not depend on its path (-g0: no debug info, no file names).
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
dpkg-source --no-copy -x "$src_dir/libwebp_1.2.4-0.2+deb12u1.dsc" "$work/libwebp" >/dev/null 2>&1  # the .dsc was checked above; its signature needs keys we do not carry
cp "$here/webp-entry.c" "$work/libwebp/webp-entry.c"
cd "$work/libwebp"

# The decoder's portable C sources (makefile.unix DEC_OBJS + DSP_DEC_OBJS + UTILS_DEC_OBJS, minus the
# SIMD/MIPS/NEON variants, which compile to nothing without those targets).
sources=(
  webp-entry.c
  src/dec/alpha_dec.c src/dec/buffer_dec.c src/dec/frame_dec.c src/dec/idec_dec.c src/dec/io_dec.c
  src/dec/quant_dec.c src/dec/tree_dec.c src/dec/vp8_dec.c src/dec/vp8l_dec.c src/dec/webp_dec.c
  src/dsp/alpha_processing.c src/dsp/cpu.c src/dsp/dec.c src/dsp/dec_clip_tables.c src/dsp/filters.c
  src/dsp/lossless.c src/dsp/rescaler.c src/dsp/upsampling.c src/dsp/yuv.c
  src/utils/bit_reader_utils.c src/utils/color_cache_utils.c src/utils/filters_utils.c
  src/utils/huffman_utils.c src/utils/quant_levels_dec_utils.c src/utils/random_utils.c
  src/utils/rescaler_utils.c src/utils/thread_utils.c src/utils/utils.c
)

# STANDALONE_WASM with no JS runtime: the module imports nothing but memory-growth notification (see
# shared/src/codecs/webp-wasm.ts). No threads, no SIMD, no filesystem, no exit().
emcc -O2 -g0 -DNDEBUG -I. \
  -sSTANDALONE_WASM=1 --no-entry \
  -sALLOW_MEMORY_GROWTH=1 -sINITIAL_MEMORY=1MB -sMAXIMUM_MEMORY=256MB -sTOTAL_STACK=256KB \
  -sFILESYSTEM=0 -sASSERTIONS=0 -sSUPPORT_ERRNO=0 -sMALLOC=emmalloc \
  -sEXPORTED_FUNCTIONS=_malloc,_free,_webp_decode,_webp_free_result \
  "${sources[@]}" -o "$work/webp_dec.wasm"
cp "$work/webp_dec.wasm" "$out"
got="$(sha256sum "$out" | cut -d' ' -f1)"
if [ "$got" != "$WASM_SHA256" ]; then
  echo "build.sh: $out has sha256 $got, not the recorded $WASM_SHA256: if the change is intended, update WASM_SHA256" >&2
  exit 1
fi
echo "$out: sha256 $got (as recorded)"
