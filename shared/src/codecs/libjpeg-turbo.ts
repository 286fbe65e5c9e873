import { ImageError } from "../errors.ts";
import type { RawImage } from "../image.ts";
import { instancesHeld, onHoldEnd } from "./instance-hold.ts";

/**
 * libjpeg-turbo 2.1.5 compiled to wasm (shared/wasm/jpeg: decode.c + build.sh), driven through a hand-written
 * import object: no emscripten runtime, no eval, no SharedArrayBuffer.
 * - The compressed bytes stay in JS: libjpeg pulls them through `jd_read` in 64 KiB chunks, so the wasm heap
 *   holds only libjpeg's own buffers (rows, or the coefficient buffer of a progressive file) and the output.
 * - libjpeg reports a fatal error through `error_exit`; decode.c then calls the `jd_fail` import, which
 *   throws and unwinds the wasm stack (setjmp would need emscripten's JS glue). The instance's heap may then
 *   hold the failed call's allocations, so it is dropped and the next call instantiates a fresh one from the
 *   compiled module. Same after a decode that took the heap past 16 MiB (in practice: a progressive file,
 *   whose coefficient buffer is ~3 bytes per pixel): wasm memory only grows, and a 12 MP progressive decode
 *   should not pin 36 MiB for the life of the isolate. Baseline decodes at 1/8 stay near 1-4 MiB and reuse
 *   their instance.
 * - Warnings (libjpeg's num_warnings and the first 8 messages) come back with the pixels; the caller decides
 *   which of them mean invented pixels.
 */
const RESET_HEAP_BYTES = 16 * 1024 * 1024;
const MAX_MESSAGES = 8;

/** libjpeg's JWRN_* message codes that we act on (jerror.h of 2.1.5 with JPEG_LIB_VERSION 62, in enum order). */
export const JWRN = {
  ADOBE_XFORM: 114,
  BOGUS_PROGRESSION: 115,
  EXTRANEOUS_DATA: 116,
  HIT_MARKER: 117,
  HUFF_BAD_CODE: 118,
  JFIF_MAJOR: 119,
  JPEG_EOF: 120,
  MUST_RESYNC: 121,
  NOT_SEQUENTIAL: 122,
  TOO_MUCH_DATA: 123,
} as const;

export interface LibjpegDecodeOptions {
  /** Output at 1/scaleDenom of the full size, in libjpeg's DCT domain (output side = ceil(side / scaleDenom)). */
  scaleDenom: 1 | 2 | 4 | 8;
  /** 3: RGB; 4: RGBA with alpha 255 (what preprocess() reads in place). Gray files are replicated. */
  channels: 3 | 4;
  /** Stop after this many scans (TurboJPEG's TJFLAG_LIMITSCANS uses 500). */
  maxScans: number;
  /** Most bytes libjpeg's memory manager may allocate (coefficient buffer + row buffers; not the output). */
  memoryLimit: number;
}

export interface LibjpegWarning {
  code: number;
  message: string;
}

export interface LibjpegResult {
  image: RawImage;
  /** Full (unscaled) size from the frame header. */
  fullWidth: number;
  fullHeight: number;
  scans: number;
  /** libjpeg's num_warnings, and the first few of them. */
  warningCount: number;
  warnings: LibjpegWarning[];
}

interface Exports {
  memory: WebAssembly.Memory;
  _initialize(): void;
  jd_decode(scaleDenom: number, channels: number, maxScans: number, memoryLimit: number): number;
  jd_result(): number;
  jd_messages(): number;
  jd_error(): number;
  jd_message_size(): number;
  free(ptr: number): void;
}

/** Thrown by the jd_fail import to unwind out of libjpeg. */
class LibjpegAbort extends Error {}

const KIND_SCAN_LIMIT = 2;
const KIND_MEMORY = 3;

interface Live {
  wasm: WebAssembly.Module;
  exports: Exports;
}

let live: Live | null = null;
let lastDecodeHeap = 0;
let instancesCreated = 0;
let input: Uint8Array = new Uint8Array(0);
let position = 0;
onHoldEnd(() => {
  if (live && live.exports.memory.buffer.byteLength > RESET_HEAP_BYTES) live = null;
});

function instantiate(wasm: WebAssembly.Module): Live {
  if (live && live.wasm === wasm) return live;
  let exports: Exports | null = null;
  const mem = (): Uint8Array => new Uint8Array(exports!.memory.buffer);
  const unsupported = (): number => 52; // WASI ENOSYS: stdio is linked in by libjpeg's default handlers, never called
  const imports = {
    env: {
      jd_read(dst: number, max: number): number {
        const n = Math.min(max, input.length - position);
        mem().set(input.subarray(position, position + n), dst);
        position += n;
        return n;
      },
      jd_skip(n: number): void {
        position = Math.min(input.length, position + n);
      },
      jd_fail(): never {
        throw new LibjpegAbort("libjpeg error_exit");
      },
      emscripten_notify_memory_growth(): void {},
    },
    wasi_snapshot_preview1: {
      proc_exit(code: number): never {
        throw new LibjpegAbort(`libjpeg called exit(${code})`);
      },
      fd_close: unsupported,
      fd_write: unsupported,
      fd_seek: unsupported,
    },
  };
  const instance = new WebAssembly.Instance(wasm, imports);
  exports = instance.exports as unknown as Exports;
  exports._initialize();
  instancesCreated++;
  live = { wasm, exports };
  return live;
}

/** How many libjpeg-turbo instances this isolate has created (for tests of the recovery logic). */
export function libjpegInstanceCount(): number {
  return instancesCreated;
}

/** Size of the wasm memory at the end of the last decode (its high-water mark), whether or not the instance was then dropped. */
export function libjpegLastDecodeHeapBytes(): number {
  return lastDecodeHeap;
}

/** Bytes of wasm memory the live libjpeg-turbo instance holds (0 when none is live). */
export function libjpegMemoryBytes(): number {
  return live ? live.exports.memory.buffer.byteLength : 0;
}

function cString(mem: Uint8Array, at: number, max: number): string {
  let end = at;
  while (end < at + max && mem[end] !== 0) end++;
  let s = "";
  for (let i = at; i < end; i++) s += String.fromCharCode(mem[i]!);
  return s;
}

function readWarnings(x: Exports, count: number): LibjpegWarning[] {
  const mem = new Uint8Array(x.memory.buffer);
  const view = new DataView(x.memory.buffer);
  const r = x.jd_result();
  const size = x.jd_message_size();
  const out: LibjpegWarning[] = [];
  for (let i = 0; i < Math.min(count, MAX_MESSAGES); i++) {
    out.push({ code: view.getInt32(r + 40 + 4 * i, true), message: cString(mem, x.jd_messages() + i * size, size) });
  }
  return out;
}

/**
 * Decode a JPEG whose header has been checked (8-bit, Huffman, 1 or 3 components). Throws ImageError for
 * what libjpeg refuses (corrupt_image), a scan count over `maxScans` (corrupt_image) and libjpeg running
 * out of its memory budget (image_too_large).
 */
export function decodeWithLibjpeg(bytes: Uint8Array, wasm: WebAssembly.Module, opts: LibjpegDecodeOptions): LibjpegResult {
  const { exports: x } = instantiate(wasm);
  input = bytes;
  position = 0;
  let r: number;
  try {
    r = x.jd_decode(opts.scaleDenom, opts.channels, opts.maxScans, opts.memoryLimit);
  } catch (e) {
    live = null;
    lastDecodeHeap = x.memory.buffer.byteLength;
    input = new Uint8Array(0);
    if (!(e instanceof LibjpegAbort)) {
      if (e instanceof RangeError || (e instanceof WebAssembly.RuntimeError && /memory|unreachable/i.test(e.message))) {
        throw new ImageError("image_too_large", "there is not enough memory to decode this JPEG: send a smaller image", { format: "jpeg", decoder: String(e) });
      }
      throw e;
    }
    const view = new DataView(x.memory.buffer);
    const kind = view.getUint32(x.jd_result() + 32, true);
    const message = cString(new Uint8Array(x.memory.buffer), x.jd_error(), x.jd_message_size());
    const warnings = readWarnings(x, view.getUint32(x.jd_result() + 36, true)).map((w) => w.message);
    if (kind === KIND_MEMORY) {
      throw new ImageError("image_too_large", `decoding this JPEG needs more memory than the decoder may use (${opts.memoryLimit} bytes; ${message}): send a smaller image`, {
        format: "jpeg",
        decoder: message,
      });
    }
    if (kind === KIND_SCAN_LIMIT) {
      throw new ImageError("corrupt_image", `the JPEG has more than ${opts.maxScans} scans, more than any real encoder writes: re-save it as a standard JPEG`, {
        format: "jpeg",
        maxScans: opts.maxScans,
      });
    }
    // Each distinct libjpeg message once, with its count ("Premature end of JPEG file" repeats per row group).
    const counts = new Map<string, number>();
    for (const m of [...warnings, message]) counts.set(m, (counts.get(m) ?? 0) + 1);
    const said = [...counts].map(([m, n]) => (n > 1 ? `${m} (x${n})` : m)).join("; ");
    throw new ImageError("corrupt_image", `the JPEG is damaged or truncated and could not be decoded (${said}); send the complete, unmodified file`, {
      format: "jpeg",
      decoder: [...warnings, message],
    });
  }
  input = new Uint8Array(0);
  const view = new DataView(x.memory.buffer);
  const u32 = (i: number): number => view.getUint32(r + 4 * i, true);
  const [width, height, channels, data, fullWidth, fullHeight, warningCount, scans, , messageCount] = Array.from({ length: 10 }, (_, i) => u32(i)) as [
    number, number, number, number, number, number, number, number, number, number,
  ];
  const pixels = new Uint8Array(x.memory.buffer, data, width * height * channels).slice();
  x.free(data);
  const warnings = readWarnings(x, messageCount);
  lastDecodeHeap = x.memory.buffer.byteLength;
  if (lastDecodeHeap > RESET_HEAP_BYTES && !instancesHeld()) live = null;
  return {
    image: { data: pixels, width, height, channels: channels as 3 | 4 },
    fullWidth,
    fullHeight,
    scans,
    warningCount,
    warnings,
  };
}
