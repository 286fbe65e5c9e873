// Pillow's resampling passes on interleaved 8-bit samples, one channel at a time: the kernels for images
// that are not RGB (gray, gray + alpha, RGBA with real alpha). RGB goes through resample-rgbx.ts.
import { clip8, HALF, type FixedTaps } from "./resample.ts";

/**
 * Horizontal pass over `rows` rows. Source row r starts at byte `srcOffset + r * srcRowBytes` and holds
 * pixels of `srcStride` bytes; output columns [x0, x0 + outWidth) of `f` are written for `channels` channels
 * (the first `channels` bytes of each source pixel) to `dst`, packed, row r at `r * outWidth * channels`.
 */
export function horizontalPass(
  src: Uint8Array,
  srcOffset: number,
  srcRowBytes: number,
  srcStride: number,
  channels: number,
  rows: number,
  f: FixedTaps,
  x0: number,
  outWidth: number,
  dst: Uint8Array,
): void {
  const { start, weights, taps } = f;
  for (let r = 0; r < rows; r++) {
    const inBase = srcOffset + r * srcRowBytes;
    let o = r * outWidth * channels;
    for (let xx = x0; xx < x0 + outWidth; xx++) {
      const s = inBase + start[xx]! * srcStride;
      const kb = xx * taps;
      for (let ch = 0; ch < channels; ch++) {
        let acc = HALF;
        for (let t = 0, i = s + ch; t < taps; t++, i += srcStride) acc = (acc + src[i]! * weights[kb + t]!) | 0;
        dst[o++] = clip8(acc);
      }
    }
  }
}

let scratch = new Int32Array(0);

/**
 * Vertical pass: output rows [y0, y0 + outHeight) of `f`, each `rowBytes` bytes, into `dst` (packed). Source
 * row y starts at byte `srcOffset + (y - srcFirstRow) * srcRowBytes`.
 */
export function verticalPass(
  src: Uint8Array,
  srcOffset: number,
  srcRowBytes: number,
  srcFirstRow: number,
  rowBytes: number,
  f: FixedTaps,
  y0: number,
  outHeight: number,
  dst: Uint8Array,
): void {
  const { start, weights, taps } = f;
  if (taps === 4) {
    for (let yy = y0; yy < y0 + outHeight; yy++) {
      const k = yy * 4;
      const r0 = srcOffset + (start[yy]! - srcFirstRow) * srcRowBytes;
      vertical4(src, r0, srcRowBytes, weights[k]!, weights[k + 1]!, weights[k + 2]!, weights[k + 3]!, rowBytes, dst, (yy - y0) * rowBytes);
    }
    return;
  }
  if (scratch.length < rowBytes) scratch = new Int32Array(rowBytes);
  const acc = scratch;
  for (let yy = y0; yy < y0 + outHeight; yy++) {
    const base = srcOffset + (start[yy]! - srcFirstRow) * srcRowBytes;
    const kb = yy * taps;
    acc.fill(HALF, 0, rowBytes);
    let t = 0;
    for (; t + 4 <= taps; t += 4) {
      accumulate4(src, base + t * srcRowBytes, srcRowBytes, weights[kb + t]!, weights[kb + t + 1]!, weights[kb + t + 2]!, weights[kb + t + 3]!, rowBytes, acc);
    }
    for (; t < taps; t++) accumulate1(src, base + t * srcRowBytes, weights[kb + t]!, rowBytes, acc);
    const o = (yy - y0) * rowBytes;
    for (let i = 0; i < rowBytes; i++) dst[o + i] = clip8(acc[i]!);
  }
}

function vertical4(src: Uint8Array, r0: number, stride: number, w0: number, w1: number, w2: number, w3: number, n: number, dst: Uint8Array, o: number): void {
  const r1 = r0 + stride;
  const r2 = r1 + stride;
  const r3 = r2 + stride;
  for (let i = 0; i < n; i++) {
    dst[o + i] = clip8((HALF + src[r0 + i]! * w0 + src[r1 + i]! * w1 + src[r2 + i]! * w2 + src[r3 + i]! * w3) | 0);
  }
}

function accumulate4(src: Uint8Array, r0: number, stride: number, w0: number, w1: number, w2: number, w3: number, n: number, acc: Int32Array): void {
  const r1 = r0 + stride;
  const r2 = r1 + stride;
  const r3 = r2 + stride;
  for (let i = 0; i < n; i++) acc[i] = (acc[i]! + src[r0 + i]! * w0 + src[r1 + i]! * w1 + src[r2 + i]! * w2 + src[r3 + i]! * w3) | 0;
}

function accumulate1(src: Uint8Array, r0: number, w0: number, n: number, acc: Int32Array): void {
  for (let i = 0; i < n; i++) acc[i] = (acc[i]! + src[r0 + i]! * w0) | 0;
}
