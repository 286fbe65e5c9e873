// What a request may cost, decided from the image header before a pixel is decoded. Classify and feedback
// both go through here, so an image one refuses the other refuses too, with the same status and code.
//
// Three bounds, all pure functions of sizes:
// - MAX_PIXELS_<path> caps the decoded image per decode path (the decoders' memory; checked first, in
//   classify.ts's planRequest), and the model's own preprocess.maxPixels caps it too (here).
// - MAX_TENSOR_PIXELS caps H*W of the tensor fed to the model.
// - The activations: H*W alone does not bound them. Every stride-2 layer halves a side, rounding up, so a
//   side shorter than the total stride stops shrinking: a 1x240000 tensor is as small as 600x400 at the
//   input but 2x larger in every stage from the stem on (ORT's heap: 71.8 MiB -> 110 MiB or a dead workerd; BENCHMARKS.md).
//   `networkPixels` counts what the stages see, and must stay within MAX_TENSOR_PIXELS * ACTIVATION_SLACK.
//   A pure function of the final tensor shape, so it holds whatever rounds the shape (e.g. to stride multiples).
import type { ImageHeader } from "@resnet-edge/shared";
import { ApiError } from "./http/errors.ts";

/** The stride of each downsampling stage of the served ResNets: stem conv, max pool, layer2..4. */
export const STAGE_STRIDES = [2, 4, 8, 16, 32] as const;

/**
 * How far networkPixels may exceed MAX_TENSOR_PIXELS: the rounding up at each stride costs a regular
 * shape a few % (489x490: 0.04%, 33x7272: 3%), a thin one up to 2x. Measured (bench/edge/activation-heap.ts,
 * the shipped int8 ResNet-18 in workerd, one run on a fresh isolate, MAX_TENSOR_PIXELS lifted): 600x400,
 * 32x7500, 7500x32, 16x15000, 2x120000, 1x120000 (networkPixels <= 240000) all peak at 71.8 MiB;
 * 5x48000 (1.2x) 83.1, 1x150000 (1.25x) 85.4, 1x180000 (1.5x) 91.8, 240000x1 (2x) 110.3, and 1x240000
 * (2x) kills workerd. 5% admits every regular shape and nothing measurably heavier than 600x400.
 */
export const ACTIVATION_SLACK = 1.05;

/**
 * The input-sized pixel count a tensor costs in its largest stage: for each stride s, the stage's
 * spatial size ceil(H/s)*ceil(W/s), times s*s (back to input pixels), times 2/s (channels grow with
 * depth: 64 at s=2 and s=4, doubling per stage after, so activations per input pixel halve per stage),
 * i.e. 2*s*ceil(H/s)*ceil(W/s). Equals H*W for sides divisible by 32; 2*W for a 1xW strip.
 */
export function networkPixels(height: number, width: number): number {
  let most = 0;
  for (const s of STAGE_STRIDES) most = Math.max(most, 2 * s * Math.ceil(height / s) * Math.ceil(width / s));
  return most;
}

export interface AdmitLimits {
  /** The decoded image: the lower of the decode path's MAX_PIXELS_<path> and the model's preprocess.maxPixels. */
  maxPixels: number;
  /** MAX_TENSOR_PIXELS: the tensor fed to the model. */
  maxTensorPixels: number;
}

const pixels = (w: number, h: number) => `${w}x${h} (${w * h} pixels)`;

/** Refuse (413) an image whose decoded size or tensor would exceed the limits. */
export function admitImage(header: Pick<ImageHeader, "width" | "height">, tensor: { width: number; height: number }, limits: AdmitLimits): void {
  const { width, height } = header;
  if (width * height > limits.maxPixels) {
    throw new ApiError(413, "image_too_large", `the image is ${pixels(width, height)}; the model accepts at most ${limits.maxPixels} pixels (its manifest's preprocess.maxPixels): resize it and send it again`);
  }
  const t = tensor;
  if (t.width * t.height > limits.maxTensorPixels) {
    throw new ApiError(
      413,
      "image_too_large",
      `the ${width}x${height} image becomes a ${t.width}x${t.height} tensor (${t.width * t.height} pixels); the model accepts at most ${limits.maxTensorPixels} (MAX_TENSOR_PIXELS): crop it to a less extreme aspect ratio`,
    );
  }
  const network = networkPixels(t.height, t.width);
  const most = Math.floor(limits.maxTensorPixels * ACTIVATION_SLACK);
  if (network > most) {
    throw new ApiError(
      413,
      "image_too_large",
      `the ${width}x${height} image becomes a ${t.width}x${t.height} tensor, too thin for the network: its ${Math.min(t.width, t.height)}-pixel side stops shrinking in the stride-2 layers, so it costs as much memory as ${network} pixels; the limit is ${most} (MAX_TENSOR_PIXELS x ${ACTIVATION_SLACK}): crop it to a less extreme aspect ratio, or send it at size=default`,
    );
  }
}
