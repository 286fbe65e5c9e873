import * as tf from "@tensorflow/tfjs-core";
import type { Rng } from "./random.ts";

/**
 * fastai's aug_transforms(size, min_scale) as batch ops on the cached presized images:
 *   RandomResizedCropGPU(size, min_scale, ratio=(1,1)) + Flip(p=0.5) + Rotate(10 deg, p=.75)
 *   + Zoom(1..1.1, p=.75) + Warp(0.2, p=.75), pad_mode reflection, bilinear
 *   + Brightness(0.2, p=.75) + Contrast(0.2, p=.75) in logit space.
 * All geometry for one image composes into one projective matrix, applied with tf.image.transform's
 * definition (bilinear, reflection) straight on the cached bytes by resampleImages.
 * This is augmentation, not preprocessing: validation never comes here (it uses shared's preprocess).
 */
export interface AugmentOptions {
  /** Output height (and width, unless `width` is given). */
  size: number;
  /** Output width when it differs from `size` (multi-size training); the crop box takes the output's aspect. */
  width?: number;
  /** Smallest crop area as a fraction of the image (fastai min_scale). */
  minScale: number;
  /** false: only the random-resized crop (no flip, affine, warp or lighting). */
  full: boolean;
  maxRotate?: number;
  maxZoom?: number;
  maxWarp?: number;
  maxLighting?: number;
  pAffine?: number;
  pLighting?: number;
}

/** 3x3 row-major homography. */
export type Mat3 = [number, number, number, number, number, number, number, number, number];

export function matMul(a: Mat3, b: Mat3): Mat3 {
  const out = new Array<number>(9).fill(0) as Mat3;
  for (let i = 0; i < 3; i++) for (let j = 0; j < 3; j++) for (let k = 0; k < 3; k++) out[i * 3 + j]! += a[i * 3 + k]! * b[k * 3 + j]!;
  return out;
}

export const IDENTITY: Mat3 = [1, 0, 0, 0, 1, 0, 0, 0, 1];

/** The homography taking 4 source points to 4 target points (solves the 8x8 DLT system). */
export function homographyFromPoints(src: [number, number][], dst: [number, number][]): Mat3 {
  const A: number[][] = [];
  const b: number[] = [];
  for (let i = 0; i < 4; i++) {
    const [x, y] = src[i]!;
    const [u, v] = dst[i]!;
    A.push([x, y, 1, 0, 0, 0, -u * x, -u * y]);
    b.push(u);
    A.push([0, 0, 0, x, y, 1, -v * x, -v * y]);
    b.push(v);
  }
  const h = solve(A, b);
  return [h[0]!, h[1]!, h[2]!, h[3]!, h[4]!, h[5]!, h[6]!, h[7]!, 1];
}

function solve(A: number[][], b: number[]): number[] {
  const n = b.length;
  const M = A.map((row, i) => [...row, b[i]!]);
  for (let c = 0; c < n; c++) {
    let p = c;
    for (let r = c + 1; r < n; r++) if (Math.abs(M[r]![c]!) > Math.abs(M[p]![c]!)) p = r;
    [M[c], M[p]] = [M[p]!, M[c]!];
    const piv = M[c]![c]!;
    if (Math.abs(piv) < 1e-12) throw new Error("homographyFromPoints: degenerate points");
    for (let r = 0; r < n; r++) {
      if (r === c) continue;
      const f = M[r]![c]! / piv;
      for (let k = c; k <= n; k++) M[r]![k]! -= f * M[c]![k]!;
    }
  }
  return M.map((row, i) => row[n]! / row[i]!);
}

export interface ImageAug {
  /** Maps output pixel indices (x, y, 1) to input pixel indices; what tf.image.transform wants. */
  matrix: Mat3;
  /** Lighting in logit space: x' = sigmoid(logit(x) * contrast + brightness). */
  contrast: number;
  brightness: number;
}

/**
 * Draw one image's augmentation. Geometry is built in normalised output coordinates u, v in [-1, 1]:
 * output index -> (u, v) -> warp -> rotate -> zoom -> flip -> crop box in the input -> input index.
 */
export function sampleAugmentation(rng: Rng, inSize: number, opts: AugmentOptions): ImageAug {
  const { size, minScale, full } = opts;
  const height = size;
  const width = opts.width ?? size;
  const { maxRotate = 10, maxZoom = 1.1, maxWarp = 0.2, maxLighting = 0.2, pAffine = 0.75, pLighting = 0.75 } = opts;
  // Random resized crop with the output's aspect (square for the book's fixed size: fastai's
  // aug_transforms uses ratio=(1,1)); a non-square box keeps the area fraction, clamped to the image.
  const scale = rng.uniform(Math.min(minScale, 1), 1);
  const ratio = width / height;
  const sideX = Math.min(inSize, inSize * Math.sqrt(scale * ratio));
  const sideY = Math.min(inSize, inSize * Math.sqrt(scale / ratio));
  const x0 = rng.uniform(0, inSize - sideX);
  const y0 = rng.uniform(0, inSize - sideY);
  // output index i -> u = (2 (i + 0.5) / size) - 1
  const toNorm: Mat3 = [2 / width, 0, 1 / width - 1, 0, 2 / height, 1 / height - 1, 0, 0, 1];
  // u' -> input continuous x = x0 + (u' + 1) side / 2, then index = x - 0.5
  const toInput: Mat3 = [sideX / 2, 0, x0 + sideX / 2 - 0.5, 0, sideY / 2, y0 + sideY / 2 - 0.5, 0, 0, 1];
  let geo: Mat3 = IDENTITY;
  let contrast = 1;
  let brightness = 0;
  if (full) {
    if (rng.bernoulli(0.5)) geo = matMul([-1, 0, 0, 0, 1, 0, 0, 0, 1], geo);
    if (rng.bernoulli(pAffine)) {
      const s = 1 / rng.uniform(1, maxZoom);
      geo = matMul(geo, [s, 0, 0, 0, s, 0, 0, 0, 1]);
    }
    if (rng.bernoulli(pAffine)) {
      const a = (rng.uniform(-maxRotate, maxRotate) * Math.PI) / 180;
      geo = matMul(geo, [Math.cos(a), -Math.sin(a), 0, Math.sin(a), Math.cos(a), 0, 0, 0, 1]);
    }
    if (rng.bernoulli(pAffine)) {
      const xm = rng.uniform(-maxWarp, maxWarp);
      const ym = rng.uniform(-maxWarp, maxWarp);
      // fastai's Warp: move the corners, map the output square onto the warped quad.
      const src: [number, number][] = [[-1, -1], [-1, 1], [1, -1], [1, 1]];
      const dst: [number, number][] = [[-1 - ym, -1 - xm], [-1 + ym, 1 + xm], [1 + ym, -1 + xm], [1 - ym, 1 - xm]];
      geo = matMul(geo, homographyFromPoints(src, dst));
    }
    if (rng.bernoulli(pLighting)) {
      const change = rng.uniform(0.5 * (1 - maxLighting), 0.5 * (1 + maxLighting));
      brightness = Math.log(change / (1 - change));
    }
    if (rng.bernoulli(pLighting)) {
      const lim = -Math.log(1 - maxLighting);
      contrast = Math.exp(rng.uniform(-lim, lim));
    }
  }
  const m = matMul(toInput, matMul(geo, toNorm));
  const k = m[8]!;
  return { matrix: m.map((v) => v / k) as Mat3, contrast, brightness };
}

/**
 * Per-image lookup table from a byte value to the normalised, lit value, per channel (3 x 256):
 * lut[c * 256 + v] = (sigmoid(logit(v / 255) * contrast + brightness) - mean[c]) / std[c].
 * Lighting and normalisation are per-pixel maps of an 8-bit value, so one table does both exactly;
 * they are applied before the geometric resample (fastai lights after it; the difference is the
 * interpolation of a smooth per-pixel map, immaterial for augmentation, and it saves most of the
 * batch's elementwise work).
 */
export function pixelLut(aug: Pick<ImageAug, "contrast" | "brightness">, mean: readonly number[], std: readonly number[]): Float32Array {
  const lut = new Float32Array(3 * 256);
  const lit = aug.contrast !== 1 || aug.brightness !== 0;
  for (let v = 0; v < 256; v++) {
    let x = v / 255;
    if (lit) {
      const p = Math.min(1 - 1e-4, Math.max(1e-4, x));
      x = 1 / (1 + Math.exp(-(Math.log(p / (1 - p)) * aug.contrast + aug.brightness)));
    }
    for (let c = 0; c < 3; c++) lut[c * 256 + v] = (x - mean[c]!) / std[c]!;
  }
  return lut;
}

/**
 * tf.image.transform's "reflect" fill mode for a coordinate (tensorflow/core/kernels/image/image_ops.h,
 * as tfjs-backend-cpu's Transform ports it): reflect [abcd] to [dcba|abcd|dcba], then clamp.
 */
function reflectCoord(c: number, len: number): number {
  if (c < 0) {
    if (len <= 1) return 0;
    const sz2 = 2 * len;
    if (c < sz2) c = sz2 * Math.trunc(-c / sz2) + c;
    c = c < -len ? c + sz2 : -c - 1;
  } else if (c > len - 1) {
    if (len <= 1) return 0;
    const sz2 = 2 * len;
    c -= sz2 * Math.trunc(c / sz2);
    if (c >= len) c = sz2 - c - 1;
  }
  return Math.min(Math.max(c, 0), len - 1);
}

/**
 * Augment images straight from the presized bytes: image `indices[i]` of `source` (inSize x inSize x 3
 * bytes each, back to back) becomes image i of the result, [n, outH, outW, 3] float32 NHWC.
 *
 * The definition is tf.image.transform(lut(image), matrix, "bilinear", "reflect", fill 0): each output
 * pixel maps through its image's projective matrix to an input point, reflected into the image, and
 * bilinearly interpolates the four neighbours' lookup-table values (pixelLut: lighting + normalisation).
 * Evaluated here in one pass per output pixel on the bytes (4 taps x 3 channels), it never builds the
 * float copy of the whole presized batch (at presize 160 and size 64, 6x the output) nor a tensor for it,
 * and it is plain JS, so it can run off the main thread. test/trainer/augment.test.ts checks it against
 * tf.image.transform on the cpu backend.
 */
export function resampleImages(
  source: Uint8Array,
  indices: readonly number[],
  inSize: number,
  augs: readonly ImageAug[],
  size: number | readonly [number, number],
  mean: readonly number[],
  std: readonly number[],
): Float32Array {
  const n = indices.length;
  if (augs.length !== n) throw new Error(`resampleImages: ${augs.length} augmentations for ${n} images`);
  const [outH, outW] = typeof size === "number" ? [size, size] : size;
  const per = inSize * inSize * 3;
  const row = inSize * 3;
  const out = new Float32Array(n * outH * outW * 3);
  for (let i = 0; i < n; i++) {
    const base = indices[i]! * per;
    if (base < 0 || base + per > source.length) throw new Error(`resampleImages: image ${indices[i]} is outside the ${source.length}-byte source`);
    const lut = pixelLut(augs[i]!, mean, std);
    // float32 like the transforms tensor tf.image.transform takes, so the crops are exactly its crops.
    const [m0, m1, m2, m3, m4, m5, m6, m7] = augs[i]!.matrix.map(Math.fround) as Mat3;
    let o = i * outH * outW * 3;
    for (let oy = 0; oy < outH; oy++) {
      for (let ox = 0; ox < outW; ox++, o += 3) {
        const proj = m6 * ox + m7 * oy + 1;
        // Infinite coordinates: the fill value (0), as tf.image.transform leaves them.
        if (proj === 0) continue;
        const x = reflectCoord((m0 * ox + m1 * oy + m2) / proj, inSize);
        const y = reflectCoord((m3 * ox + m4 * oy + m5) / proj, inSize);
        const x0 = Math.floor(x);
        const y0 = Math.floor(y);
        const fx = x - x0;
        const fy = y - y0;
        // At the last row/column the weight of the next one is exactly 0 (x is clamped to len - 1).
        const x1 = x0 + 1 < inSize ? x0 + 1 : x0;
        const y1 = y0 + 1 < inSize ? y0 + 1 : y0;
        const p00 = base + y0 * row + x0 * 3;
        const p01 = base + y0 * row + x1 * 3;
        const p10 = base + y1 * row + x0 * 3;
        const p11 = base + y1 * row + x1 * 3;
        for (let c = 0, l = 0; c < 3; c++, l += 256) {
          const top = (1 - fx) * lut[l + source[p00 + c]!]! + fx * lut[l + source[p01 + c]!]!;
          const bottom = (1 - fx) * lut[l + source[p10 + c]!]! + fx * lut[l + source[p11 + c]!]!;
          out[o + c] = (1 - fy) * top + fy * bottom;
        }
      }
    }
  }
  return out;
}

/**
 * Augment a batch of presized RGB images: `pixels` holds `augs.length` images of inSize x inSize x 3
 * bytes back to back; returns [B, size, size, 3], or [B, h, w, 3] for `size` = [h, w] (see resampleImages).
 */
export function augmentBatch(
  pixels: Uint8Array,
  inSize: number,
  augs: readonly ImageAug[],
  size: number | readonly [number, number],
  mean: readonly number[],
  std: readonly number[],
): tf.Tensor4D {
  const n = augs.length;
  const [outH, outW] = typeof size === "number" ? [size, size] : size;
  const per = inSize * inSize * 3;
  if (pixels.length !== n * per) throw new Error(`augmentBatch: ${pixels.length} bytes for ${n} images of ${inSize}x${inSize}x3`);
  const values = resampleImages(pixels, Array.from({ length: n }, (_, i) => i), inSize, augs, [outH, outW], mean, std);
  return tf.tensor4d(values, [n, outH, outW, 3]);
}
