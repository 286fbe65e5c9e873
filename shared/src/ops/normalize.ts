import { assertRawImage, type RawImage } from "../image.ts";

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
  const { data, width, height } = image;
  const luts = [0, 1, 2].map((c) => {
    const lut = new Float32Array(256);
    for (let v = 0; v < 256; v++) lut[v] = (v / 255 - mean[c]!) / std[c]!;
    return lut;
  });
  const [r, g, b] = luts as [Float32Array, Float32Array, Float32Array];
  const n = width * height;
  const out = new Float32Array(n * 3);
  if (layout === "NCHW") {
    for (let p = 0, i = 0; p < n; p++, i += 3) {
      out[p] = r[data[i]!]!;
      out[n + p] = g[data[i + 1]!]!;
      out[2 * n + p] = b[data[i + 2]!]!;
    }
    return { data: out, dims: [1, 3, height, width] };
  }
  for (let i = 0; i < n * 3; i += 3) {
    out[i] = r[data[i]!]!;
    out[i + 1] = g[data[i + 1]!]!;
    out[i + 2] = b[data[i + 2]!]!;
  }
  return { data: out, dims: [1, height, width, 3] };
}
