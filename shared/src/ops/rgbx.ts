// Converting between RawImage and the packed RGBX form the resampling kernels work on (resample-rgbx.ts).
import type { RawImage } from "../image.ts";
import type { Rgbx } from "./resample-rgbx.ts";

const LITTLE_ENDIAN = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;

/** Pack 3-channel RGB bytes into one int32 per pixel. */
export function packRgbx(image: RawImage): Rgbx {
  if (image.channels !== 3) throw new Error(`packRgbx: needs an RGB image (3 channels), got ${image.channels}`);
  const { data, width, height } = image;
  const out = new Int32Array(width * height);
  pack3(data, out);
  return { data: out, width, height };
}

function pack3(src: Uint8Array, dst: Int32Array): void {
  const n = dst.length | 0;
  for (let p = 0, i = 0; p < n; p++, i += 3) dst[p] = src[i]! | (src[i + 1]! << 8) | (src[i + 2]! << 16);
}

/**
 * RGBA bytes whose alpha is 255 everywhere, seen as RGBX without copying: the same memory as an Int32Array
 * (on little-endian machines, with the data 4-byte aligned). Null when it cannot be: some pixel is not
 * opaque, or the memory layout does not allow the view.
 */
export function opaqueRgbaView(image: RawImage): Rgbx | null {
  const { data, width, height } = image;
  if (image.channels !== 4 || !LITTLE_ENDIAN || data.byteOffset % 4 !== 0) return null;
  const words = new Int32Array(data.buffer, data.byteOffset, width * height);
  return allOpaque(words) ? { data: words, width, height } : null;
}

function allOpaque(words: Int32Array): boolean {
  const n = words.length | 0;
  for (let p = 0; p < n; p++) if (words[p]! >>> 24 !== 255) return false;
  return true;
}

/** Unpack RGBX back to 3-channel RGB bytes. */
export function unpackRgb(image: Rgbx): RawImage {
  const { data, width, height } = image;
  const out = new Uint8Array(width * height * 3);
  unpack3(data, out);
  return { data: out, width, height, channels: 3 };
}

function unpack3(src: Int32Array, dst: Uint8Array): void {
  const n = src.length | 0;
  for (let p = 0, i = 0; p < n; p++, i += 3) {
    const v = src[p]!;
    dst[i] = v & 255;
    dst[i + 1] = (v >> 8) & 255;
    dst[i + 2] = (v >> 16) & 255;
  }
}
