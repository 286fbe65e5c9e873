#!/usr/bin/env bash
# Build trainer/wasm/kernels.wasm (imports a plain memory: tfjs's single-threaded SIMD build) and
# kernels-shared.wasm (imports a shared memory: the threaded SIMD build), and their relaxed-SIMD twins
# kernels-relaxed.wasm and kernels-shared-relaxed.wasm (the convolutions' multiply-add as one
# f32x4.relaxed_madd, see MADD in kernels.c), from kernels.c with Debian
# bookworm's emscripten (emcc 3.1.6, clang 14) and its wasm-ld. Reproducible: the same compiler gives
# the same bytes, whose sha256 sums are in kernels.wasm.sha256 (checked by test/trainer/wasm-kernels.test.ts).
#
#   apt-get install -y emscripten          # Debian bookworm: emcc 3.1.6
#   bash trainer/wasm/build.sh             # rebuild and overwrite the committed files
#   bash trainer/wasm/build.sh --check     # rebuild in a temporary directory and compare
#
# No libc, no runtime, no data segment, no stack: the functions only touch tfjs's tensors through the
# pointers they are given (checked below on the disassembly).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
check=0
[ "${1:-}" = "--check" ] && check=1
emcc_version="$(emcc --version 2>/dev/null | sed -n 1p)"
case "$emcc_version" in *" 3.1.6 "*) ;; *) echo "need Debian bookworm's emcc 3.1.6 (apt-get install emscripten); got: $emcc_version" >&2; exit 1 ;; esac
wasm_ld="$(command -v wasm-ld-14 || command -v wasm-ld)"

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
cp "$here/kernels.c" "$work/kernels.c"
cd "$work"
# -matomics/-mbulk-memory only for the shared variant (wasm-ld requires them for --shared-memory).
emcc -O3 -msimd128 -fno-builtin -ffile-prefix-map="$work"=. -c kernels.c -o plain.o
emcc -O3 -msimd128 -fno-builtin -matomics -mbulk-memory -ffile-prefix-map="$work"=. -c kernels.c -o shared.o
common=(--no-entry --import-memory --strip-all -z stack-size=0 --initial-memory=65536 --global-base=0)
"$wasm_ld" "${common[@]}" plain.o -o kernels.wasm
"$wasm_ld" "${common[@]}" --shared-memory --max-memory=4294967296 shared.o -o kernels-shared.wasm
# Relaxed twins: clang 14 emits the prototype fma opcode; relaxed-madd.mjs rewrites it to the standard one,
# checking that the byte pattern occurs exactly as often as clang's assembly has the instruction.
relaxed=(-mrelaxed-simd -DRELAXED_MADD)
emcc -O3 -msimd128 "${relaxed[@]}" -fno-builtin -ffile-prefix-map="$work"=. -c kernels.c -o plain-relaxed.o
emcc -O3 -msimd128 "${relaxed[@]}" -fno-builtin -matomics -mbulk-memory -ffile-prefix-map="$work"=. -c kernels.c -o shared-relaxed.o
emcc -O3 -msimd128 "${relaxed[@]}" -fno-builtin -S kernels.c -o relaxed.s
fmas="$(grep -c -E '^[[:space:]]*f32x4\.fma([[:space:]]|$)' relaxed.s)"
"$wasm_ld" "${common[@]}" plain-relaxed.o -o plain-relaxed.wasm
"$wasm_ld" "${common[@]}" --shared-memory --max-memory=4294967296 shared-relaxed.o -o shared-relaxed.wasm
node "$here/relaxed-madd.mjs" plain-relaxed.wasm kernels-relaxed.wasm "$fmas"
node "$here/relaxed-madd.mjs" shared-relaxed.wasm kernels-shared-relaxed.wasm "$fmas"
all=(kernels.wasm kernels-shared.wasm kernels-relaxed.wasm kernels-shared-relaxed.wasm)
# binaryen's wasm-dis does not know the standard relaxed opcodes: the relaxed twins are checked before the
# rewrite, which changes only those opcodes.
for f in kernels.wasm kernels-shared.wasm plain-relaxed.wasm shared-relaxed.wasm; do
  wasm-dis "$f" > "$f.wat"
  if grep -q -E '\(data |global\.(get|set) \$global\$0|__stack_pointer' "$f.wat"; then
    echo "$f uses static data or the stack; it would write into tfjs's memory" >&2; exit 1
  fi
done

if [ $check = 1 ]; then
  status=0
  for f in "${all[@]}"; do
    if cmp -s "$f" "$here/$f"; then echo "rebuilt $f is identical to the committed one"; else echo "rebuilt $f differs from the committed one" >&2; status=1; fi
  done
  exit $status
fi
cp "${all[@]}" "$here/"
(cd "$here" && sha256sum "${all[@]}" > kernels.wasm.sha256)
echo "wrote $(cat "$here/kernels.wasm.sha256")"
