import { ImageError } from "../errors.ts";
import type { RawImage } from "../image.ts";
import type { PngHeader } from "../format/png-header.ts";
import { instancesHeld, onHoldEnd } from "./instance-hold.ts";
import { PngWasmInstance } from "./png-wasm.ts";

/**
 * PNG through @jsquash/png (the Rust `png` crate), which expands every PNG (palette, gray, gray + alpha,
 * 1/2/4-bit, tRNS, Adam7 interlacing) to RGBA. 16-bit files are read at 16 bits and scaled here with
 * rounding, round(v * 255 / 65535), because the 8-bit path truncates (v >> 8). The result keeps only the
 * channels the file really has: gray -> 1, gray + alpha -> 2, RGB or opaque palette -> 3, anything with
 * alpha or tRNS -> 4.
 *
 * The wasm instance is ours (png-wasm.ts): it is dropped after a failed decode (which leaks inside wasm)
 * and whenever its memory has grown past RESET_MEMORY_BYTES, so one large PNG does not pin its memory for
 * the life of the isolate. The next call instantiates a fresh one from the compiled module.
 */
// 8 MiB: an instance that has decoded anything over ~0.5 MP is dropped, so after a request at MAX_PIXELS_PNG
// (~27 MiB of wasm) the isolate keeps at most 8 MiB for PNG; a fresh instance costs about a millisecond.
const RESET_MEMORY_BYTES = 8 * 1024 * 1024;

let instance: PngWasmInstance | null = null;
let instanceModule: WebAssembly.Module | null = null;
let instancesCreated = 0;
onHoldEnd(() => {
  if (instance && instance.memoryBytes > RESET_MEMORY_BYTES) instance = null;
});

/** Bytes of wasm memory the live PNG decoder instance holds (0 when none is live). */
export function pngMemoryBytes(): number {
  return instance?.memoryBytes ?? 0;
}

let lastDecodeBytes = 0;

/** Wasm memory the PNG decoder held right after its last successful decode, before any reset (for benchmarks). */
export function pngLastDecodeMemoryBytes(): number {
  return lastDecodeBytes;
}

/** How many PNG decoder instances this isolate has created (for tests of the reset logic). */
export function pngInstanceCount(): number {
  return instancesCreated;
}

/**
 * `layout` "rgba" (what preprocess() asks for) returns the decoder's RGBA as it is when the file has no
 * alpha (gray, RGB, opaque palette: alpha is 255 everywhere), without the copy to 1 or 3 channels;
 * preprocess() reads opaque RGBA in place, which saves 4-7 bytes per pixel of JS buffers.
 */
export function decodePng(bytes: Uint8Array, header: PngHeader, wasm: WebAssembly.Module, layout: "rgb" | "rgba" = "rgb"): RawImage {
  if (!instance || instanceModule !== wasm) {
    instance = new PngWasmInstance(wasm);
    instanceModule = wasm;
    instancesCreated++;
  }
  const png = instance;
  let rgba: Uint8Array;
  let width: number;
  let height: number;
  try {
    if (header.bitDepth === 16) {
      const img = png.decodeRgba16(bytes);
      width = img.width;
      height = img.height;
      const src = img.data;
      rgba = new Uint8Array(src.length);
      for (let i = 0; i < src.length; i++) rgba[i] = ((src[i]! * 255 + 32767) / 65535) | 0;
    } else {
      ({ data: rgba, width, height } = png.decodeRgba8(bytes));
    }
    lastDecodeBytes = png.memoryBytes;
    if (png.memoryBytes > RESET_MEMORY_BYTES && !instancesHeld()) instance = null;
  } catch (e) {
    instance = null;
    const detail = e instanceof Error ? e.message : String(e);
    if (e instanceof WebAssembly.RuntimeError && !/unreachable/.test(detail)) throw e; // a trap other than a Rust panic: a bug
    // The chunks were checked (CRCs, IEND) before this, so what failed is the zlib stream or its length. The
    // crate's panic says only "`unwrap_throw` failed"; it stays in `detail`, not in the message.
    throw new ImageError(
      "corrupt_image",
      `the PNG's compressed pixel data (IDAT) is damaged or incomplete: it does not inflate to the ${header.width}x${header.height} pixels its header declares; send the complete, unmodified file, or re-save it with an image editor`,
      { format: "png", width: header.width, height: header.height, decoder: detail },
    );
  }
  const keep = channelsOf(header);
  if (keep === 4 || (layout === "rgba" && keep !== 2)) return { data: rgba, width, height, channels: 4 };
  const n = width * height;
  const data = new Uint8Array(n * keep);
  for (let p = 0, i = 0, j = 0; p < n; p++, i += 4) {
    data[j++] = rgba[i]!;
    if (keep === 2) data[j++] = rgba[i + 3]!;
    else if (keep === 3) {
      data[j++] = rgba[i + 1]!;
      data[j++] = rgba[i + 2]!;
    }
  }
  return { data, width, height, channels: keep };
}

function channelsOf(h: PngHeader): 1 | 2 | 3 | 4 {
  if (h.colorType === 6 || h.hasTransparency) return 4;
  if (h.colorType === 4) return 2;
  if (h.colorType === 0) return 1;
  return 3;
}
