import { assertRawImage, type RawImage } from "../image.ts";

/**
 * Antialiased resize with Pillow's BILINEAR algorithm (Image.resize(..., Image.BILINEAR), which is what
 * fastai and torchvision use on PIL images): a separable triangle filter whose support widens with the
 * downscale factor, so every source pixel contributes when shrinking by large factors (no aliasing), and
 * plain bilinear interpolation when enlarging.
 *
 * Same arithmetic as Pillow's Resample.c: coefficients in double precision, normalised per output pixel,
 * converted to 22-bit fixed point; each pass accumulates integers with a rounding offset and clamps to 0..255.
 * Horizontal pass first, then vertical; an axis whose size does not change is skipped, so scale 1 is the
 * identity. Works on any channel count, with all channels filtered the same way.
 */
export function resize(image: RawImage, width: number, height: number): RawImage {
  assertRawImage(image, "resize");
  if (!Number.isInteger(width) || !Number.isInteger(height) || width < 1 || height < 1) {
    throw new Error(`resize: target size must be positive integers, got ${width}x${height}`);
  }
  let out = image;
  if (width !== image.width) out = resizeHorizontal(out, width);
  if (height !== image.height) out = resizeVertical(out, height);
  return out === image ? { ...image, data: image.data.slice() } : out;
}

const PRECISION_BITS = 32 - 8 - 2;
const ONE = 1 << PRECISION_BITS;
const HALF = 1 << (PRECISION_BITS - 1);

interface Coefficients {
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

function clip8(acc: number): number {
  const v = acc >> PRECISION_BITS;
  return v < 0 ? 0 : v > 255 ? 255 : v;
}

function resizeHorizontal(image: RawImage, outWidth: number): RawImage {
  const { data, width, height, channels: c } = image;
  const { start, count, weights, taps } = triangleCoefficients(width, outWidth);
  const out = new Uint8Array(outWidth * height * c);
  const rowIn = width * c;
  const rowOut = outWidth * c;
  for (let y = 0; y < height; y++) {
    const inBase = y * rowIn;
    let o = y * rowOut;
    for (let xx = 0; xx < outWidth; xx++) {
      const s = inBase + start[xx]! * c;
      const n = count[xx]!;
      const kb = xx * taps;
      if (c === 3) {
        // the common case, unrolled over channels: one pass over the taps instead of three
        let a0 = HALF;
        let a1 = HALF;
        let a2 = HALF;
        for (let t = 0, i = s; t < n; t++, i += 3) {
          const w = weights[kb + t]!;
          a0 += data[i]! * w;
          a1 += data[i + 1]! * w;
          a2 += data[i + 2]! * w;
        }
        out[o++] = clip8(a0);
        out[o++] = clip8(a1);
        out[o++] = clip8(a2);
      } else {
        for (let ch = 0; ch < c; ch++) {
          let acc = HALF;
          for (let t = 0, i = s + ch; t < n; t++, i += c) acc += data[i]! * weights[kb + t]!;
          out[o++] = clip8(acc);
        }
      }
    }
  }
  return { data: out, width: outWidth, height, channels: c };
}

/**
 * Re-pack coefficients so every output index has the same number of taps, a multiple of 4, padded with
 * zero weights and with the window shifted left where it would run past the end. Integer sums do not
 * depend on grouping, so the result is identical; the fixed 4-tap groups just run faster in V8.
 * Returns null when the input is shorter than the padded window.
 */
function padTaps(c: Coefficients, inSize: number): { start: Int32Array; weights: Int32Array; taps: number } | null {
  let maxCount = 0;
  for (const n of c.count) maxCount = Math.max(maxCount, n);
  const taps = Math.ceil(maxCount / 4) * 4;
  if (taps > inSize) return null;
  const outSize = c.start.length;
  const start = new Int32Array(outSize);
  const weights = new Int32Array(outSize * taps);
  for (let o = 0; o < outSize; o++) {
    const shift = Math.max(0, c.start[o]! + taps - inSize);
    start[o] = c.start[o]! - shift;
    for (let t = 0; t < c.count[o]!; t++) weights[o * taps + shift + t] = c.weights[o * c.taps + t]!;
  }
  return { start, weights, taps };
}

function resizeVertical(image: RawImage, outHeight: number): RawImage {
  const { data, width, height, channels: c } = image;
  const coefficients = triangleCoefficients(height, outHeight);
  const row = width * c;
  const out = new Uint8Array(row * outHeight);
  const padded = padTaps(coefficients, height);
  if (!padded) {
    const { start, count, weights, taps } = coefficients;
    for (let yy = 0; yy < outHeight; yy++) {
      const base = start[yy]! * row;
      const n = count[yy]!;
      const kb = yy * taps;
      const o = yy * row;
      for (let i = 0; i < row; i++) {
        let acc = HALF;
        for (let t = 0, j = base + i; t < n; t++, j += row) acc += data[j]! * weights[kb + t]!;
        out[o + i] = clip8(acc);
      }
    }
    return { data: out, width, height: outHeight, channels: c };
  }
  const { start, weights, taps } = padded;
  const acc = taps > 4 ? new Float64Array(row) : null;
  for (let yy = 0; yy < outHeight; yy++) {
    const o = yy * row;
    for (let g = 0; g < taps; g += 4) {
      const k = yy * taps + g;
      const w0 = weights[k]!;
      const w1 = weights[k + 1]!;
      const w2 = weights[k + 2]!;
      const w3 = weights[k + 3]!;
      const r0 = (start[yy]! + g) * row;
      const r1 = r0 + row;
      const r2 = r1 + row;
      const r3 = r2 + row;
      if (!acc) {
        for (let i = 0; i < row; i++) out[o + i] = clip8(HALF + data[r0 + i]! * w0 + data[r1 + i]! * w1 + data[r2 + i]! * w2 + data[r3 + i]! * w3);
      } else if (g === 0) {
        for (let i = 0; i < row; i++) acc[i] = HALF + data[r0 + i]! * w0 + data[r1 + i]! * w1 + data[r2 + i]! * w2 + data[r3 + i]! * w3;
      } else {
        for (let i = 0; i < row; i++) acc[i] += data[r0 + i]! * w0 + data[r1 + i]! * w1 + data[r2 + i]! * w2 + data[r3 + i]! * w3;
      }
    }
    if (acc) for (let i = 0; i < row; i++) out[o + i] = clip8(acc[i]!);
  }
  return { data: out, width, height: outHeight, channels: c };
}
