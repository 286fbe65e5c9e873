import mozjpegFactory, { type MozJPEGModule } from "@jsquash/jpeg/codec/dec/mozjpeg_dec.js";
import { ImageError } from "../errors.ts";
import type { RawImage } from "../image.ts";
import { opaqueRgbaView, unpackRgb } from "../ops/rgbx.ts";

/**
 * mozjpeg 3.3.1 (libjpeg-turbo API, 8-bit, Huffman only) compiled by @jsquash/jpeg, driven directly so
 * that we control its lifetime:
 * - libjpeg reports a fatal error by calling exit(), which emscripten turns into a thrown ExitStatus; the
 *   module keeps working but leaks the failed call's buffers, so after any failure the instance is dropped
 *   and the next call instantiates a fresh one from the compiled module (about a millisecond).
 * - wasm memory only grows. After decoding a large image the instance is dropped for the same reason, so
 *   a single 36 MP upload does not pin ~150 MB for the life of the isolate.
 * - libjpeg warnings go to printErr; the ones that mean the pixels are not all there become errors.
 */
const RESET_HEAP_BYTES = 64 * 1024 * 1024;

/** libjpeg warnings after which the output contains invented pixels. */
const FATAL_WARNINGS = [/Premature end of JPEG file/i, /premature end of data segment/i, /bad Huffman code/i, /Corrupt JPEG data: found marker/i];

let instance: Promise<MozJPEGModule> | null = null;
let instanceWasm: WebAssembly.Module | null = null;
const messages: string[] = [];
let instancesCreated = 0;

function getInstance(wasm: WebAssembly.Module): Promise<MozJPEGModule> {
  if (instance && instanceWasm === wasm) return instance;
  instanceWasm = wasm;
  instancesCreated++;
  const created = mozjpegFactory({
    noInitialRun: true,
    print: () => {},
    printErr: (m: string) => messages.push(m),
    instantiateWasm: (imports: WebAssembly.Imports, done: (i: WebAssembly.Instance) => void) => {
      const inst = new WebAssembly.Instance(wasm, imports);
      done(inst);
      return inst.exports;
    },
  } as never);
  instance = created;
  return created;
}

let lastHeapBytes = 0;

/** Bytes of wasm memory the live mozjpeg instance holds (0 when none is live). */
export function mozjpegMemoryBytes(): number {
  return instance ? lastHeapBytes : 0;
}

/** How many mozjpeg instances this isolate has created (for tests of the recovery logic). */
export function mozjpegInstanceCount(): number {
  return instancesCreated;
}

/**
 * Decode a JPEG whose header has been checked (8-bit, Huffman, 1 or 3 components). `layout` "rgb" gives
 * 3-channel RGB; "rgba" gives mozjpeg's own output, RGBA with alpha 255 everywhere, without the copy to
 * RGB (what preprocess() uses: it reads opaque RGBA in place).
 */
export async function decodeWithMozjpeg(bytes: Uint8Array, wasm: WebAssembly.Module, layout: "rgb" | "rgba" = "rgb"): Promise<RawImage> {
  const mod = await getInstance(wasm);
  messages.length = 0;
  let result: ImageData | null;
  try {
    result = mod.decode(bytes as Uint8Array<ArrayBuffer>, false); // false: do not rotate; orientation is applied by orient()
  } catch (e) {
    instance = null;
    if (e instanceof Error && /OOM|out of memory|enlarge memory/i.test(e.message)) {
      throw new ImageError("image_too_large", "there is not enough memory to decode this JPEG: send a smaller image or lower maxPixels", {
        format: "jpeg",
        decoder: e.message,
      });
    }
    // libjpeg's error_exit -> exit() -> emscripten throws an ExitStatus object (not an Error). Anything else is a bug.
    if (e instanceof Error && !/ExitStatus|exit/i.test(e.name + e.message)) throw e;
    throw new ImageError("corrupt_image", `the JPEG could not be decoded (${messages.join("; ") || "decoder error"}); send the complete, unmodified file`, {
      format: "jpeg",
      decoder: messages.slice(),
    });
  }
  const heap = (mod as unknown as { HEAP8?: Int8Array }).HEAP8;
  lastHeapBytes = heap?.length ?? 0;
  if (!heap || heap.length > RESET_HEAP_BYTES) instance = null;
  if (!result) throw new ImageError("corrupt_image", "the JPEG could not be decoded; send the complete, unmodified file", { format: "jpeg" });
  const fatal = messages.find((m) => FATAL_WARNINGS.some((re) => re.test(m)));
  if (fatal) {
    throw new ImageError("corrupt_image", `the JPEG is damaged (${fatal}); send the complete, unmodified file`, { format: "jpeg", decoder: messages.slice() });
  }
  const { width, height } = result;
  const rgba: RawImage = { data: new Uint8Array(result.data.buffer, result.data.byteOffset, result.data.length), width, height, channels: 4 };
  if (layout === "rgba") return rgba;
  const view = opaqueRgbaView(rgba);
  return view ? unpackRgb(view) : dropAlpha(rgba);
}

function dropAlpha(image: RawImage): RawImage {
  const { data, width, height } = image;
  const rgb = new Uint8Array(width * height * 3);
  for (let i = 0, j = 0; j < rgb.length; i += 4, j += 3) {
    rgb[j] = data[i]!;
    rgb[j + 1] = data[i + 1]!;
    rgb[j + 2] = data[i + 2]!;
  }
  return { data: rgb, width, height, channels: 3 };
}
