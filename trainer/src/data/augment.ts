import * as tf from "@tensorflow/tfjs-core";
import type { Rng } from "./random.ts";

/**
 * fastai's aug_transforms(size, min_scale) as batch ops on the cached presized images:
 *   RandomResizedCropGPU(size, min_scale, ratio=(1,1)) + Flip(p=0.5) + Rotate(10 deg, p=.75)
 *   + Zoom(1..1.1, p=.75) + Warp(0.2, p=.75), pad_mode reflection, bilinear
 *   + Brightness(0.2, p=.75) + Contrast(0.2, p=.75) in logit space.
 * All geometry for one image composes into one projective matrix, applied with tf.image.transform.
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
 * Augment a batch of presized RGB images: `pixels` holds `augs.length` images of inSize x inSize x 3
 * bytes back to back. Lighting + normalisation through each image's lookup table, then all geometry in
 * one batched projective resample to [B, size, size, 3], or [B, h, w, 3] for `size` = [h, w] (bilinear,
 * reflection padding).
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
  const values = new Float32Array(n * per);
  for (let i = 0; i < n; i++) {
    const lut = pixelLut(augs[i]!, mean, std);
    const base = i * per;
    for (let k = 0; k < per; k += 3) {
      values[base + k] = lut[pixels[base + k]!]!;
      values[base + k + 1] = lut[256 + pixels[base + k + 1]!]!;
      values[base + k + 2] = lut[512 + pixels[base + k + 2]!]!;
    }
  }
  return tf.tidy(() => {
    const x = tf.tensor4d(values, [n, inSize, inSize, 3]);
    const warp = (img: tf.Tensor4D, m: number[]): tf.Tensor4D =>
      tf.image.transform(img, tf.tensor2d(m, [img.shape[0], 8]), "bilinear", "reflect", 0, [outH, outW]);
    // tfjs-backend-cpu 4.22's Transform kernel returns after the first image of a batch (the rest come
    // back as fill value), so on that backend each image is resampled on its own. The wasm kernel is
    // correct batched and ~15x faster that way.
    if (tf.getBackend() === "cpu") {
      const images = tf.split(x, n, 0) as tf.Tensor4D[];
      return tf.concat(images.map((img, i) => warp(img, augs[i]!.matrix.slice(0, 8))), 0) as tf.Tensor4D;
    }
    return warp(x, augs.flatMap((a) => a.matrix.slice(0, 8)));
  });
}
