import { ImageError } from "../errors.ts";
import type { RawImage } from "../image.ts";
import type { WebpHeader } from "../format/webp-header.ts";
import { instancesHeld, onHoldEnd } from "./instance-hold.ts";

/**
 * WebP through libwebp 1.2.4 (Debian bookworm's source, with its patches) compiled to a standalone wasm by
 * shared/wasm/webp/build.sh. The module imports one function (a memory-growth notice we do not need: every
 * read takes a fresh view of memory) and exports webp_decode / webp_free_result / malloc / free, so the glue
 * is this file: no emscripten JS runtime, no eval.
 *
 * Scaled decoding: given `scaled` dimensions, libwebp rescales rows as it decodes them, so a lossy image
 * never exists at full size (a lossless one still does, inside the decoder: VP8L keeps one 32-bit ARGB
 * word per pixel). preprocess() asks for 1/2, 1/4 or 1/8 of the size (ops/shrink-on-load.ts) and the
 * project's resize makes the final step.
 *
 * Like the PNG and JPEG decoders, the instance is dropped after a failure and whenever its memory has grown
 * past RESET_MEMORY_BYTES (wasm memory never shrinks), and the next call instantiates a fresh one.
 */
// 8 MiB: a lossy WebP of any size stays under it (rows at a time); a large lossless one (~4.5 B/px) does
// not, and its instance is dropped so the isolate does not keep that memory.
const RESET_MEMORY_BYTES = 8 * 1024 * 1024;

interface WebpExports {
  memory: WebAssembly.Memory;
  _initialize(): void;
  malloc(size: number): number;
  free(ptr: number): void;
  webp_decode(data: number, size: number, scaledWidth: number, scaledHeight: number, channels: number): number;
  webp_free_result(pixels: number): void;
}

/** libwebp's VP8StatusCode, as words a person can act on. */
const STATUS: Record<number, string> = {
  1: "the decoder ran out of memory",
  2: "invalid parameters",
  3: "the compressed image data is corrupt",
  4: "it uses a WebP feature this decoder does not support",
  5: "decoding was suspended",
  6: "decoding was aborted",
  7: "the file is truncated (the image data ends early)",
};

let instance: WebpExports | null = null;
let instanceModule: WebAssembly.Module | null = null;
let instancesCreated = 0;
onHoldEnd(() => {
  if (instance && instance.memory.buffer.byteLength > RESET_MEMORY_BYTES) instance = null;
});

function getInstance(module: WebAssembly.Module): WebpExports {
  if (instance && instanceModule === module) return instance;
  const exports = new WebAssembly.Instance(module, { env: { emscripten_notify_memory_growth: () => {} } }).exports as unknown as WebpExports;
  exports._initialize();
  instance = exports;
  instanceModule = module;
  instancesCreated++;
  return exports;
}

/** Bytes of wasm memory the live WebP decoder instance holds (0 when none is live). */
export function webpMemoryBytes(): number {
  return instance?.memory.buffer.byteLength ?? 0;
}

let lastDecodeBytes = 0;

/** Wasm memory the WebP decoder held right after its last successful decode, before any reset (for benchmarks). */
export function webpLastDecodeMemoryBytes(): number {
  return lastDecodeBytes;
}

/** How many WebP decoder instances this isolate has created (for tests of the reset logic). */
export function webpInstanceCount(): number {
  return instancesCreated;
}

/**
 * Decode a WebP whose header has been read (readWebpHeader). The result is RGBA when the header says the
 * image has alpha, RGB otherwise, except that `layout` "rgba" (what preprocess() asks for) always gives
 * RGBA (alpha 255 for an opaque image, which preprocess() reads in place). `scaled` (when given and smaller
 * than the image) is the size to decode at.
 */
export function decodeWebp(
  bytes: Uint8Array,
  header: WebpHeader,
  wasm: WebAssembly.Module,
  scaled?: { width: number; height: number },
  layout: "rgb" | "rgba" = "rgb",
): RawImage {
  const webp = getInstance(wasm);
  const channels = header.hasAlpha || layout === "rgba" ? 4 : 3;
  const scale = scaled && (scaled.width < header.width || scaled.height < header.height) ? scaled : undefined;
  let input = 0;
  let pixels = 0;
  try {
    input = webp.malloc(bytes.length);
    if (input === 0) throw outOfMemory(header);
    new Uint8Array(webp.memory.buffer, input, bytes.length).set(bytes);
    const at = webp.webp_decode(input, bytes.length, scale?.width ?? 0, scale?.height ?? 0, channels);
    const [status, width, height, , ptr, length] = new Int32Array(webp.memory.buffer, at, 6);
    webp.free(input);
    input = 0;
    if (status !== 0) {
      if (status === 1) throw outOfMemory(header);
      throw new ImageError("corrupt_image", `the WebP could not be decoded: ${STATUS[status!] ?? `libwebp status ${status}`}; send the complete, unmodified file`, {
        format: "webp",
        status,
      });
    }
    pixels = ptr!;
    const data = new Uint8Array(webp.memory.buffer, pixels, length).slice();
    webp.webp_free_result(pixels);
    pixels = 0;
    lastDecodeBytes = webp.memory.buffer.byteLength;
    if (lastDecodeBytes > RESET_MEMORY_BYTES && !instancesHeld()) instance = null;
    return { data, width: width!, height: height!, channels };
  } catch (e) {
    instance = null;
    if (e instanceof ImageError) throw e;
    if (e instanceof WebAssembly.RuntimeError) {
      // a trap: with growth capped at 256 MB, "out of bounds"/"unreachable" after a failed allocation
      throw new ImageError("corrupt_image", `the WebP could not be decoded (${e.message}); send the complete, unmodified file`, { format: "webp", decoder: e.message });
    }
    throw e;
  } finally {
    if (instance === webp) {
      if (input) webp.free(input);
      if (pixels) webp.webp_free_result(pixels);
    }
  }
}

function outOfMemory(header: WebpHeader): ImageError {
  return new ImageError(
    "image_too_large",
    `there is not enough memory to decode this ${header.width}x${header.height} WebP: send a smaller image`,
    { format: "webp", width: header.width, height: header.height },
  );
}
