import { assertRawImage, type RawImage } from "../image.ts";
import type { Rgbx } from "./resample-rgbx.ts";

export type TensorLayout = "NCHW" | "NHWC";

export interface Tensor {
  data: Float32Array;
  /** [1, 3, H, W] for NCHW, [1, H, W, 3] for NHWC. */
  dims: [number, number, number, number];
}

/**
 * RGB bytes to a float32 tensor: (v / 255 - mean[c]) / std[c], computed in double precision and rounded
 * once to float32 (through a 256-entry table per channel, so every runtime produces the same bits).
 * NCHW (planar, what ONNX/PyTorch models take) or NHWC (interleaved, tfjs's default).
 */
export function normalizeToTensor(
  image: RawImage,
  mean: readonly [number, number, number],
  std: readonly [number, number, number],
  layout: TensorLayout = "NCHW",
): Tensor {
  assertRawImage(image, "normalizeToTensor");
  if (image.channels !== 3) throw new Error(`normalizeToTensor: needs an RGB image (3 channels), got ${image.channels}; call toRGB first`);
  return tensorFrom(image.data, image.width, image.height, mean, std, layout, toPlanar, toInterleaved);
}

/** normalizeToTensor for RGB packed as RGBX (what preprocessImage uses): the same tables, the same bits. */
export function normalizeRgbx(
  image: Rgbx,
  mean: readonly [number, number, number],
  std: readonly [number, number, number],
  layout: TensorLayout = "NCHW",
): Tensor {
  return tensorFrom(image.data, image.width, image.height, mean, std, layout, rgbxToPlanar, rgbxToInterleaved);
}

type PixelLoop<D> = (data: D, n: number, r: Float32Array, g: Float32Array, b: Float32Array, out: Float32Array) => void;

/** The per-channel tables and the output tensor, filled by the layout's pixel loop (shared by RGB and RGBX). */
function tensorFrom<D>(
  data: D,
  width: number,
  height: number,
  mean: readonly [number, number, number],
  std: readonly [number, number, number],
  layout: TensorLayout,
  planar: PixelLoop<D>,
  interleaved: PixelLoop<D>,
): Tensor {
  const n = width * height;
  const out = new Float32Array(n * 3);
  const tables = [channelTable(mean[0], std[0]), channelTable(mean[1], std[1]), channelTable(mean[2], std[2])] as const;
  (layout === "NCHW" ? planar : interleaved)(data, n, ...tables, out);
  return { data: out, dims: layout === "NCHW" ? [1, 3, height, width] : [1, height, width, 3] };
}

/** (v / 255 - mean) / std for every byte value v, in double precision rounded once to float32. */
function channelTable(mean: number, std: number): Float32Array {
  const lut = new Float32Array(256);
  for (let v = 0; v < 256; v++) lut[v] = (v / 255 - mean) / std;
  return lut;
}

// The loops live in their own small functions so V8 optimises them as whole functions (a loop inside a
// larger function was left to on-stack replacement that deoptimised on every call).
function toPlanar(data: Uint8Array, n: number, r: Float32Array, g: Float32Array, b: Float32Array, out: Float32Array): void {
  for (let p = 0, i = 0; p < n; p++, i += 3) {
    out[p] = r[data[i]!]!;
    out[n + p] = g[data[i + 1]!]!;
    out[2 * n + p] = b[data[i + 2]!]!;
  }
}

function toInterleaved(data: Uint8Array, n: number, r: Float32Array, g: Float32Array, b: Float32Array, out: Float32Array): void {
  for (let i = 0; i < n * 3; i += 3) {
    out[i] = r[data[i]!]!;
    out[i + 1] = g[data[i + 1]!]!;
    out[i + 2] = b[data[i + 2]!]!;
  }
}

function rgbxToPlanar(data: Int32Array, pixels: number, r: Float32Array, g: Float32Array, b: Float32Array, out: Float32Array): void {
  const n = pixels | 0; // `| 0`: see resample-rgbx.ts
  const n2 = (n * 2) | 0;
  for (let p = 0; p < n; p++) {
    const v = data[p]!;
    out[p] = r[v & 255]!;
    out[n + p] = g[(v >> 8) & 255]!;
    out[n2 + p] = b[(v >> 16) & 255]!;
  }
}

function rgbxToInterleaved(data: Int32Array, pixels: number, r: Float32Array, g: Float32Array, b: Float32Array, out: Float32Array): void {
  const n = pixels | 0;
  for (let p = 0, i = 0; p < n; p++, i += 3) {
    const v = data[p]!;
    out[i] = r[v & 255]!;
    out[i + 1] = g[(v >> 8) & 255]!;
    out[i + 2] = b[(v >> 16) & 255]!;
  }
}
