#!/usr/bin/env bash
# Build shared/wasm/jpeg/libjpeg-turbo.wasm from Debian's libjpeg-turbo 2.1.5 source with Debian's emscripten.
# Reproducible: the same source tarball (sha256 checked below) and emcc 3.1.6 give the same bytes, whose
# sha256 is recorded in libjpeg-turbo.wasm.sha256 (checked by test/shared/jpeg-wasm.test.ts).
#
#   apt-get install -y emscripten            # Debian bookworm: emcc 3.1.6
#   bash shared/wasm/jpeg/build.sh           # fetches the source with `apt-get source` (needs a deb-src entry)
#   bash shared/wasm/jpeg/build.sh --check   # rebuild in a temporary directory and compare with the committed file
#
# The source: libjpeg-turbo_2.1.5.orig.tar.gz from Debian bookworm (upstream's release tarball). A deb-src
# entry is needed for `apt-get source`, e.g. /etc/apt/sources.list.d/debian-src.sources:
#   Types: deb-src
#   URIs: http://deb.debian.org/debian
#   Suites: bookworm
#   Components: main
#   Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
# or pass the tarball: LIBJPEG_TURBO_TARBALL=path/to/libjpeg-turbo_2.1.5.orig.tar.gz bash build.sh
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
tarball_sha256=254f3642b04e309fee775123133c6464181addc150499561020312ec61c1bf7c
check=0
[ "${1:-}" = "--check" ] && check=1

emcc_version="$(emcc --version 2>/dev/null | sed -n 1p)"
case "$emcc_version" in *" 3.1.6 "*) ;; *) echo "need Debian bookworm's emcc 3.1.6 (apt-get install emscripten); got: $emcc_version" >&2; exit 1 ;; esac

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
cd "$work"
if [ -n "${LIBJPEG_TURBO_TARBALL:-}" ]; then
  cp "$LIBJPEG_TURBO_TARBALL" libjpeg-turbo_2.1.5.orig.tar.gz
else
  apt-get source --download-only libjpeg-turbo=1:2.1.5-2 >/dev/null
fi
echo "$tarball_sha256  libjpeg-turbo_2.1.5.orig.tar.gz" | sha256sum -c --quiet
tar xzf libjpeg-turbo_2.1.5.orig.tar.gz
src="$work/libjpeg-turbo-2.1.5"

# The headers CMake would generate, written out for this one configuration (8-bit, no arithmetic coding,
# no SIMD, wasm32: size_t is 4 bytes; CMake's probe under emcmake reports 9).
sed -e 's/@JPEG_LIB_VERSION@/62/' -e 's/@VERSION@/2.1.5/' -e 's/@LIBJPEG_TURBO_VERSION_NUMBER@/2001005/' \
  -e 's/@BITS_IN_JSAMPLE@/8/' -e 's|^#cmakedefine MEM_SRCDST_SUPPORTED 1|#define MEM_SRCDST_SUPPORTED 1|' \
  -e 's|^#cmakedefine \(.*\)$|/* #undef \1 */|' "$src/jconfig.h.in" > "$src/jconfig.h"
sed -e 's/@BUILD@/resnet-edge/' -e 's/@INLINE@/__inline__ __attribute__((always_inline))/' -e 's/@THREAD_LOCAL@//' \
  -e 's/@CMAKE_PROJECT_NAME@/libjpeg-turbo/' -e 's/@VERSION@/2.1.5/' -e 's/@SIZE_T@/4/' \
  -e 's|^#cmakedefine HAVE_BUILTIN_CTZL|#define HAVE_BUILTIN_CTZL|' -e 's|^#cmakedefine \(.*\)$|/* #undef \1 */|' \
  "$src/jconfigint.h.in" > "$src/jconfigint.h"
sed -e 's/@COPYRIGHT_YEAR@/1991-2023/' "$src/jversion.h.in" > "$src/jversion.h"

sources="jcomapi.c jdapimin.c jdapistd.c jdcoefct.c jdcolor.c jddctmgr.c jdhuff.c jdinput.c jdmainct.c jdmarker.c
  jdmaster.c jdmerge.c jdphuff.c jdpostct.c jdsample.c jerror.c jidctflt.c jidctfst.c jidctint.c jidctred.c
  jquant1.c jquant2.c jutils.c jmemmgr.c jmemnobs.c jsimd_none.c"
cp "$here/decode.c" "$src/rx_decode.c"
(cd "$src" && emcc -O2 -I. -DNO_GETENV -DNO_PUTENV -ffile-prefix-map="$src"=. \
  -sSTANDALONE_WASM=1 --no-entry -sFILESYSTEM=0 -sALLOW_MEMORY_GROWTH=1 -sINITIAL_MEMORY=1MB -sTOTAL_STACK=256KB \
  -sMAXIMUM_MEMORY=256MB -sERROR_ON_UNDEFINED_SYMBOLS=0 -sEXPORTED_FUNCTIONS=_malloc,_free \
  $sources rx_decode.c -o "$work/out.wasm")
wasm-opt --strip-debug --strip-producers -O2 "$work/out.wasm" -o "$work/libjpeg-turbo.wasm"

if [ $check = 1 ]; then
  if cmp -s "$work/libjpeg-turbo.wasm" "$here/libjpeg-turbo.wasm"; then echo "rebuilt libjpeg-turbo.wasm is identical to the committed one"; exit 0; fi
  echo "rebuilt libjpeg-turbo.wasm differs: $(sha256sum < "$work/libjpeg-turbo.wasm" | cut -c1-64) vs committed $(cut -c1-64 "$here/libjpeg-turbo.wasm.sha256")" >&2
  exit 1
fi
cp "$work/libjpeg-turbo.wasm" "$here/libjpeg-turbo.wasm"
(cd "$here" && sha256sum libjpeg-turbo.wasm > libjpeg-turbo.wasm.sha256)
echo "wrote $here/libjpeg-turbo.wasm ($(stat -c %s "$here/libjpeg-turbo.wasm") bytes), $(cat "$here/libjpeg-turbo.wasm.sha256")"
