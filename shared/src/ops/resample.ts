/**
 * The one implementation of Pillow's antialiased BILINEAR resampling (Resample.c), as two separable passes
 * that `resize` (any image) and `preprocessImage` (resize + center crop in one go) both call:
 * - coefficients in double precision, normalised per output pixel, converted to 22-bit fixed point
 *   (Pillow's precompute_coeffs + normalize_coeffs_8bpc);
 * - each pass accumulates integers with a rounding offset and clamps to 0..255; horizontal before vertical,
 *   with the intermediate rounded to 8 bits, as Pillow does.
 * Speed without changing a bit: every output index gets the same number of taps, a multiple of 4 where the
 * input is long enough (zero weights pad the window, shifted left where it would run past the end: integer
 * sums do not depend on grouping or on added zeros), so the inner loops are fixed 4-tap groups. Sums stay
 * within int32 (weights are non-negative and sum to ~2^22, samples are <= 255), so `| 0` is exact.
 * A pass can compute a window of its output (the part a center crop keeps); each output value depends only
 * on its own coefficients, so a window equals the same region of the full result.
 */

export const PRECISION_BITS = 32 - 8 - 2;
const ONE = 1 << PRECISION_BITS;
/** The rounding offset every accumulator starts from. */
export const HALF = 1 << (PRECISION_BITS - 1);

/** An accumulator back to a sample: drop the fraction, clamp to 0..255. */
export function clip8(acc: number): number {
  const v = acc >> PRECISION_BITS;
  return v < 0 ? 0 : v > 255 ? 255 : v;
}

export interface Coefficients {
  /** First source index for each output index. */
  start: Int32Array;
  /** Number of taps for each output index. */
  count: Int32Array;
  /** `taps` fixed-point weights per output index (row-major, `taps` stride). */
  weights: Int32Array;
  taps: number;
}

/** Triangle-filter coefficients for resampling `inSize` samples to `outSize` (Pillow's precompute_coeffs). */
export function triangleCoefficients(inSize: number, outSize: number): Coefficients {
  const scale = inSize / outSize;
  const filterScale = Math.max(scale, 1);
  const support = 1 * filterScale; // the triangle filter's support is 1
  const taps = Math.ceil(support) * 2 + 1;
  const start = new Int32Array(outSize);
  const count = new Int32Array(outSize);
  const weights = new Int32Array(outSize * taps);
  const k = new Float64Array(taps);
  const inv = 1 / filterScale;
  for (let xx = 0; xx < outSize; xx++) {
    const center = (xx + 0.5) * scale;
    let xmin = Math.trunc(center - support + 0.5);
    if (xmin < 0) xmin = 0;
    let xmax = Math.trunc(center + support + 0.5);
    if (xmax > inSize) xmax = inSize;
    xmax -= xmin;
    let ww = 0;
    for (let x = 0; x < xmax; x++) {
      const t = Math.abs((x + xmin - center + 0.5) * inv);
      const w = t < 1 ? 1 - t : 0;
      k[x] = w;
      ww += w;
    }
    for (let x = 0; x < xmax; x++) {
      const w = ww === 0 ? 0 : k[x]! / ww;
      weights[xx * taps + x] = w < 0 ? Math.trunc(-0.5 + w * ONE) : Math.trunc(0.5 + w * ONE);
    }
    start[xx] = xmin;
    count[xx] = xmax;
  }
  return { start, count, weights, taps };
}

/** Coefficients with the same number of taps for every output index (see the file comment). */
export interface FixedTaps {
  start: Int32Array;
  weights: Int32Array;
  /** Taps per output index: a multiple of 4 unless the input is shorter than that. */
  taps: number;
}

/** Resampling `inSize` samples to `outSize` as fixed-size tap windows. */
export function fixedTaps(inSize: number, outSize: number): FixedTaps {
  const c = triangleCoefficients(inSize, outSize);
  let maxCount = 1;
  for (let o = 0; o < outSize; o++) if (c.count[o]! > maxCount) maxCount = c.count[o]!;
  const padded = Math.ceil(maxCount / 4) * 4;
  const taps = padded <= inSize ? padded : maxCount;
  const start = new Int32Array(outSize);
  const weights = new Int32Array(outSize * taps);
  for (let o = 0; o < outSize; o++) {
    const shift = Math.max(0, c.start[o]! + taps - inSize);
    start[o] = c.start[o]! - shift;
    for (let t = 0; t < c.count[o]!; t++) weights[o * taps + shift + t] = c.weights[o * c.taps + t]!;
  }
  return { start, weights, taps };
}

/** The source range [first, end) that outputs [from, from + n) of `f` read. */
export function sourceSpan(f: FixedTaps, from: number, n: number): { first: number; end: number } {
  let first = Infinity;
  let end = 0;
  for (let o = from; o < from + n; o++) {
    first = Math.min(first, f.start[o]!);
    end = Math.max(end, f.start[o]! + f.taps);
  }
  return { first, end };
}
