// Pillow's resampling passes (see resample.ts) on RGB pixels packed one per int32 (RGBX: R in bits 0-7, G in
// 8-15, B in 16-23; bits 24-31 are ignored on input and 0 on output). One typed-array access per pixel
// instead of one per sample: in V8 every typed-array access reloads and checks the array's length and data
// pointer, which cost more than the arithmetic, so this is ~2-3x fewer instructions than per-byte kernels.
// The arithmetic per sample is the same as resample-bytes.ts, so the results are the same bits.
import { clip8, HALF, type FixedTaps } from "./resample.ts";

/** An RGB image as one int32 per pixel (see the file comment), row-major. */
export interface Rgbx {
  data: Int32Array;
  width: number;
  height: number;
}

/**
 * Horizontal pass over `rows` rows: source row r starts at `srcOffset + r * srcRowPixels`; output columns
 * [x0, x0 + outWidth) of `f` go to `dst`, packed, row r at `r * outWidth`.
 */
export function horizontalRgbx(src: Int32Array, srcOffset: number, srcRowPixels: number, rows: number, f: FixedTaps, x0: number, outWidth: number, dst: Int32Array): void {
  if (f.taps === 4) {
    // column by column: the 4 weights stay in registers for a whole column (fewer loads than row by row)
    const { start, weights } = f;
    for (let xx = x0; xx < x0 + outWidth; xx++) {
      const k = xx * 4;
      column4(src, srcOffset + start[xx]!, srcRowPixels, rows, weights[k]!, weights[k + 1]!, weights[k + 2]!, weights[k + 3]!, dst, xx - x0, outWidth);
    }
  } else if (f.taps % 4 === 0) horizontalGroups(src, srcOffset, srcRowPixels, rows, f.start, f.weights, f.taps, x0, outWidth, dst);
  else horizontalAny(src, srcOffset, srcRowPixels, rows, f.start, f.weights, f.taps, x0, outWidth, dst);
}

// In the kernels below, numeric arguments are copied with `| 0` first: V8 (TurboFan in Node 20) otherwise
// re-checks and untags them inside the loop on every use.

/**
 * One output column of the horizontal pass with 4 taps: `rows` pixels, source and output strided by row.
 * No clamp needed with 4 taps: weights are >= 0 and each is rounded by at most 1/2, so an accumulator lies
 * in [2^21, 2^21 + 255 * (2^22 + 2)] and `>> 22` is already in 0..255 (the 8-bit kernels clamp; the
 * fast-path tests compare the two).
 */
function column4(src: Int32Array, at: number, srcStride: number, rows: number, k0: number, k1: number, k2: number, k3: number, dst: Int32Array, to: number, dstStride: number): void {
  const half = HALF | 0;
  const w0 = k0 | 0;
  const w1 = k1 | 0;
  const w2 = k2 | 0;
  const w3 = k3 | 0;
  const n = rows | 0;
  const ss = srcStride | 0;
  const ds = dstStride | 0;
  for (let row = 0, i = at | 0, o = to | 0; row < n; row = (row + 1) | 0, i = (i + ss) | 0, o = (o + ds) | 0) {
    dst[o] = mac4(half, src[i]!, src[(i + 1) | 0]!, src[(i + 2) | 0]!, src[(i + 3) | 0]!, w0, w1, w2, w3);
  }
}

/**
 * HALF + sum of p_t * w_t per channel, for 4 RGBX pixels, packed back to RGBX (valid only where the sums
 * need no clamp: 4 taps, see column4). Each step is `| 0`-truncated so V8 emits plain 32-bit adds.
 */
function mac4(half: number, p0: number, p1: number, p2: number, p3: number, w0: number, w1: number, w2: number, w3: number): number {
  let r = (half + Math.imul(p0 & 255, w0)) | 0;
  r = (r + Math.imul(p1 & 255, w1)) | 0;
  r = (r + Math.imul(p2 & 255, w2)) | 0;
  r = (r + Math.imul(p3 & 255, w3)) | 0;
  let g = (half + Math.imul((p0 >> 8) & 255, w0)) | 0;
  g = (g + Math.imul((p1 >> 8) & 255, w1)) | 0;
  g = (g + Math.imul((p2 >> 8) & 255, w2)) | 0;
  g = (g + Math.imul((p3 >> 8) & 255, w3)) | 0;
  let b = (half + Math.imul((p0 >> 16) & 255, w0)) | 0;
  b = (b + Math.imul((p1 >> 16) & 255, w1)) | 0;
  b = (b + Math.imul((p2 >> 16) & 255, w2)) | 0;
  b = (b + Math.imul((p3 >> 16) & 255, w3)) | 0;
  return (r >> 22) | ((g >> 14) & 0xff00) | ((b >> 6) & 0xff0000);
}

function horizontalGroups(
  src: Int32Array,
  srcOffset: number,
  srcRowPixels: number,
  rows: number,
  start: Int32Array,
  weights: Int32Array,
  taps: number,
  x0: number,
  outWidth: number,
  dst: Int32Array,
): void {
  const half = HALF | 0;
  const t = taps | 0;
  const n = rows | 0;
  const first = x0 | 0;
  const end = (x0 + outWidth) | 0;
  let o = 0;
  for (let row = 0; row < n; row++) {
    const base = (srcOffset + row * srcRowPixels) | 0;
    for (let xx = first; xx < end; xx++) {
      let i = (base + start[xx]!) | 0;
      let r = half;
      let g = half;
      let b = half;
      for (let k = Math.imul(xx, t), kEnd = (k + t) | 0; k < kEnd; k = (k + 4) | 0, i = (i + 4) | 0) {
        const p0 = src[i]!;
        const p1 = src[(i + 1) | 0]!;
        const p2 = src[(i + 2) | 0]!;
        const p3 = src[(i + 3) | 0]!;
        const w0 = weights[k]!;
        const w1 = weights[(k + 1) | 0]!;
        const w2 = weights[(k + 2) | 0]!;
        const w3 = weights[(k + 3) | 0]!;
        r = (r + Math.imul(p0 & 255, w0)) | 0;
        r = (r + Math.imul(p1 & 255, w1)) | 0;
        r = (r + Math.imul(p2 & 255, w2)) | 0;
        r = (r + Math.imul(p3 & 255, w3)) | 0;
        g = (g + Math.imul((p0 >> 8) & 255, w0)) | 0;
        g = (g + Math.imul((p1 >> 8) & 255, w1)) | 0;
        g = (g + Math.imul((p2 >> 8) & 255, w2)) | 0;
        g = (g + Math.imul((p3 >> 8) & 255, w3)) | 0;
        b = (b + Math.imul((p0 >> 16) & 255, w0)) | 0;
        b = (b + Math.imul((p1 >> 16) & 255, w1)) | 0;
        b = (b + Math.imul((p2 >> 16) & 255, w2)) | 0;
        b = (b + Math.imul((p3 >> 16) & 255, w3)) | 0;
      }
      dst[o++] = clip8(r) | (clip8(g) << 8) | (clip8(b) << 16);
    }
  }
}

function horizontalAny(
  src: Int32Array,
  srcOffset: number,
  srcRowPixels: number,
  rows: number,
  start: Int32Array,
  weights: Int32Array,
  taps: number,
  x0: number,
  outWidth: number,
  dst: Int32Array,
): void {
  let o = 0;
  for (let row = 0; row < rows; row++) {
    const base = srcOffset + row * srcRowPixels;
    for (let xx = x0; xx < x0 + outWidth; xx++) {
      let r = HALF;
      let g = HALF;
      let b = HALF;
      for (let t = 0, i = base + start[xx]!, k = xx * taps; t < taps; t++, i++, k++) {
        const p = src[i]!;
        const w = weights[k]!;
        r = (r + (p & 255) * w) | 0;
        g = (g + ((p >> 8) & 255) * w) | 0;
        b = (b + ((p >> 16) & 255) * w) | 0;
      }
      dst[o++] = clip8(r) | (clip8(g) << 8) | (clip8(b) << 16);
    }
  }
}

let scratch = new Int32Array(0);

/**
 * Vertical pass: output rows [y0, y0 + outHeight) of `f`, each `rowPixels` wide, into `dst` (packed). Source
 * row y starts at `(y - srcFirstRow) * rowPixels`.
 */
export function verticalRgbx(src: Int32Array, rowPixels: number, srcFirstRow: number, f: FixedTaps, y0: number, outHeight: number, dst: Int32Array): void {
  const { start, weights, taps } = f;
  if (taps === 4) {
    for (let yy = y0; yy < y0 + outHeight; yy++) {
      const k = yy * 4;
      const r0 = (start[yy]! - srcFirstRow) * rowPixels;
      vertical4(src, r0, rowPixels, weights[k]!, weights[k + 1]!, weights[k + 2]!, weights[k + 3]!, dst, (yy - y0) * rowPixels);
    }
    return;
  }
  if (scratch.length < rowPixels * 3) scratch = new Int32Array(rowPixels * 3);
  const acc = scratch;
  for (let yy = y0; yy < y0 + outHeight; yy++) {
    const base = (start[yy]! - srcFirstRow) * rowPixels;
    const kb = yy * taps;
    acc.fill(HALF, 0, rowPixels * 3);
    let t = 0;
    for (; t + 4 <= taps; t += 4) {
      accumulate4(src, base + t * rowPixels, rowPixels, weights[kb + t]!, weights[kb + t + 1]!, weights[kb + t + 2]!, weights[kb + t + 3]!, acc);
    }
    for (; t < taps; t++) accumulate1(src, base + t * rowPixels, rowPixels, weights[kb + t]!, acc);
    finish(acc, rowPixels, dst, (yy - y0) * rowPixels);
  }
}

function vertical4(src: Int32Array, row0: number, width: number, k0: number, k1: number, k2: number, k3: number, dst: Int32Array, to: number): void {
  const half = HALF | 0;
  const w0 = k0 | 0;
  const w1 = k1 | 0;
  const w2 = k2 | 0;
  const w3 = k3 | 0;
  const n = width | 0;
  const r0 = row0 | 0;
  const r1 = (r0 + n) | 0;
  const r2 = (r1 + n) | 0;
  const r3 = (r2 + n) | 0;
  const o = to | 0;
  for (let i = 0; i < n; i = (i + 1) | 0) {
    dst[(o + i) | 0] = mac4(half, src[(r0 + i) | 0]!, src[(r1 + i) | 0]!, src[(r2 + i) | 0]!, src[(r3 + i) | 0]!, w0, w1, w2, w3);
  }
}

/** acc holds 3 accumulators per pixel (R, G, B) for one output row. */
function accumulate4(src: Int32Array, r0: number, n: number, w0: number, w1: number, w2: number, w3: number, acc: Int32Array): void {
  const r1 = r0 + n;
  const r2 = r1 + n;
  const r3 = r2 + n;
  for (let i = 0, a = 0; i < n; i++, a += 3) {
    const p0 = src[r0 + i]!;
    const p1 = src[r1 + i]!;
    const p2 = src[r2 + i]!;
    const p3 = src[r3 + i]!;
    acc[a] = (acc[a]! + (p0 & 255) * w0 + (p1 & 255) * w1 + (p2 & 255) * w2 + (p3 & 255) * w3) | 0;
    acc[a + 1] = (acc[a + 1]! + ((p0 >> 8) & 255) * w0 + ((p1 >> 8) & 255) * w1 + ((p2 >> 8) & 255) * w2 + ((p3 >> 8) & 255) * w3) | 0;
    acc[a + 2] = (acc[a + 2]! + ((p0 >> 16) & 255) * w0 + ((p1 >> 16) & 255) * w1 + ((p2 >> 16) & 255) * w2 + ((p3 >> 16) & 255) * w3) | 0;
  }
}

function accumulate1(src: Int32Array, r0: number, n: number, w: number, acc: Int32Array): void {
  for (let i = 0, a = 0; i < n; i++, a += 3) {
    const p = src[r0 + i]!;
    acc[a] = (acc[a]! + (p & 255) * w) | 0;
    acc[a + 1] = (acc[a + 1]! + ((p >> 8) & 255) * w) | 0;
    acc[a + 2] = (acc[a + 2]! + ((p >> 16) & 255) * w) | 0;
  }
}

function finish(acc: Int32Array, n: number, dst: Int32Array, o: number): void {
  for (let i = 0, a = 0; i < n; i++, a += 3) dst[o + i] = clip8(acc[a]!) | (clip8(acc[a + 1]!) << 8) | (clip8(acc[a + 2]!) << 16);
}
