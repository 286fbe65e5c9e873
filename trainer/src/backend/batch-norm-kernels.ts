import * as tf from "@tensorflow/tfjs-core";
import { FusedBatchNorm, getKernel, registerKernel, unregisterKernel } from "@tensorflow/tfjs-core";
import type { KernelBackend, KernelConfig, TensorInfo } from "@tensorflow/tfjs-core";
import { kernelSlots, pointerOf, runSplit } from "./simd-kernels.ts";
import { runStock } from "./wasm-kernels.ts";

/**
 * BatchNorm's full-size passes as single kernels on the wasm backend (trainer/wasm/kernels.c), split
 * across our worker threads by rows (each thread's partial sums in its own slot, added up here). tfjs's Mean/Sum over N, H, W transpose the tensor first and run on one
 * thread, and FusedBatchNorm and the elementwise backward are single-threaded passes each.
 *   BatchNormMoments   (x [.., C])         -> [mean, variance]   (biased; two passes over x)
 *   BatchNormGradSums  (dy, x [.., C])     -> [sum(dy), sum(dy * x)] over all but the last axis
 *   ChannelAffine      (a, ka, bias [, b, kb]) -> a * ka + bias (+ b * kb), ka, kb, bias per channel
 * Other backends do not have them: batchNormTrain (model/ops/batch-norm.ts) asks
 * `fusedBatchNormKernels()` and otherwise uses tfjs ops.
 */

export const BATCH_NORM_MOMENTS = "ResnetEdgeBatchNormMoments";
export const BATCH_NORM_GRAD_SUMS = "ResnetEdgeBatchNormGradSums";
export const CHANNEL_AFFINE = "ResnetEdgeChannelAffine";

/** Elements below which a pass is not split across threads (measured: below ~64 K a worker's wake-up costs more than it saves). */
export const bnSplitPolicy = { minElementsPerThread: 1 << 16 };

interface HeapBackend extends KernelBackend {
  makeOutput(shape: number[], dtype: "float32"): TensorInfo;
  typedArrayFromHeap(info: TensorInfo): Float32Array;
}

function rowsAndChannels(t: TensorInfo, kernel: string): [number, number] {
  if (t.dtype !== "float32") throw new Error(`${kernel}: float32 only, got ${t.dtype}`);
  const c = t.shape[t.shape.length - 1] ?? 1;
  const size = t.shape.reduce((a, b) => a * b, 1);
  return [c === 0 ? 0 : size / c, c];
}

/** Rows per thread at least: no thread below the element threshold. */
function minRows(c: number): number {
  return Math.max(1, Math.ceil(bnSplitPolicy.minElementsPerThread / Math.max(1, c)));
}

/** Channels rounded up to whole 64-byte lines: the threads' partial sums never share one. */
const padded = (c: number) => Math.ceil(c / 16) * 16;

/**
 * Runs a partial-sums kernel over [0, m) rows and adds the threads' slots: out[k][ch] = scale * sum over
 * slots of partials[slot * stride + k * cp + ch], for each output k. Slots a split did not use stay zero.
 */
function sumOverThreads(backend: KernelBackend, name: "bn_partial_moments" | "bn_partial_grad_sums", args: (partials: number) => number[], m: number, c: number,
  stride: number, outs: TensorInfo[], scale: number): void {
  const heap = backend as HeapBackend;
  const slots = kernelSlots(backend);
  const partials = heap.makeOutput([slots * stride], "float32");
  heap.typedArrayFromHeap(partials).fill(0);
  runSplit(backend, name, args(pointerOf(backend, partials)), m, 1, minRows(c));
  // Views are taken after every allocation (a growing wasm memory detaches older ones).
  const parts = heap.typedArrayFromHeap(partials);
  const cp = padded(c);
  outs.forEach((out, k) => {
    const o = heap.typedArrayFromHeap(out);
    for (let ch = 0; ch < c; ch++) {
      let sum = 0;
      for (let slot = 0; slot < slots; slot++) sum += parts[slot * stride + k * cp + ch]!;
      o[ch] = sum * scale;
    }
  });
  backend.disposeData(partials.dataId);
}

function moments({ inputs, backend }: { inputs: tf.NamedTensorInfoMap; backend: KernelBackend }): TensorInfo[] {
  const x = inputs.x!;
  const [m, c] = rowsAndChannels(x, BATCH_NORM_MOMENTS);
  const heap = backend as HeapBackend;
  const mean = heap.makeOutput([c], "float32");
  const variance = heap.makeOutput([c], "float32");
  const cp = padded(c);
  // two passes: the mean, then the mean squared deviation from it (biased)
  sumOverThreads(backend, "bn_partial_moments", (p) => [pointerOf(backend, x), m, c, cp, 0, p], m, c, 2 * cp, [mean], 1 / m);
  sumOverThreads(backend, "bn_partial_moments", (p) => [pointerOf(backend, x), m, c, cp, pointerOf(backend, mean), p], m, c, 2 * cp, [variance], 1 / m);
  return [mean, variance];
}

function gradSums({ inputs, backend }: { inputs: tf.NamedTensorInfoMap; backend: KernelBackend }): TensorInfo[] {
  const { dy, x } = inputs as { dy: TensorInfo; x: TensorInfo };
  const [m, c] = rowsAndChannels(x, BATCH_NORM_GRAD_SUMS);
  if (dy.shape.join() !== x.shape.join()) throw new Error(`${BATCH_NORM_GRAD_SUMS}: dy ${dy.shape} and x ${x.shape} differ`);
  const heap = backend as HeapBackend;
  const sumDy = heap.makeOutput([c], "float32");
  const sumDyX = heap.makeOutput([c], "float32");
  const cp = padded(c);
  sumOverThreads(backend, "bn_partial_grad_sums", (p) => [pointerOf(backend, dy), pointerOf(backend, x), m, c, cp, p], m, c, 4 * cp, [sumDy, sumDyX], 1);
  return [sumDy, sumDyX];
}

function channelAffine({ inputs, backend }: { inputs: tf.NamedTensorInfoMap; backend: KernelBackend }): TensorInfo {
  const { a, ka, bias, b, kb } = inputs as { a: TensorInfo; ka: TensorInfo; bias: TensorInfo; b?: TensorInfo; kb?: TensorInfo };
  const [m, c] = rowsAndChannels(a, CHANNEL_AFFINE);
  for (const v of [ka, bias, ...(kb ? [kb] : [])]) {
    if (v.shape.length !== 1 || v.shape[0] !== c) throw new Error(`${CHANNEL_AFFINE}: per-channel vectors must be [${c}], got [${v.shape}]`);
  }
  if (b && b.shape.join() !== a.shape.join()) throw new Error(`${CHANNEL_AFFINE}: b ${b.shape} and a ${a.shape} differ`);
  if (!b !== !kb) throw new Error(`${CHANNEL_AFFINE}: b and kb come together`);
  const out = (backend as HeapBackend).makeOutput([...a.shape], "float32");
  runSplit(backend, "channel_affine", [pointerOf(backend, a), b ? pointerOf(backend, b) : 0, pointerOf(backend, ka), kb ? pointerOf(backend, kb) : 0,
    pointerOf(backend, bias), pointerOf(backend, out), m, c], m, 1, minRows(c));
  return out;
}

/**
 * tf.batchNorm (the FusedBatchNorm kernel: inference, validation) as one split channel_affine pass,
 * x * ka + bias with ka = scale / sqrt(variance + eps) and bias = offset - mean * ka per channel.
 * tfjs-backend-wasm's own is a single-threaded pass: 67 of the 256 ms of a ResNet-18 validation
 * forward at 64 px, batch 64, on 2 threads. Statistics that are not [C] vectors go to the stock kernel.
 */
function fusedBatchNormInference(args: { inputs: tf.NamedTensorInfoMap; backend: KernelBackend; attrs: tf.NamedAttrMap }): TensorInfo {
  const { x, mean, variance, offset, scale } = args.inputs as { x: TensorInfo; mean: TensorInfo; variance: TensorInfo; offset?: TensorInfo; scale?: TensorInfo };
  const c = x.shape[x.shape.length - 1] ?? 0;
  const vector = (t?: TensorInfo) => !t || (t.dtype === "float32" && t.shape.length === 1 && t.shape[0] === c);
  if (!enabled || x.dtype !== "float32" || c === 0 || ![mean, variance, offset, scale].every(vector)) {
    return runStock(FusedBatchNorm, args as unknown as Parameters<typeof runStock>[1]);
  }
  const heap = args.backend as HeapBackend;
  const eps = Number(args.attrs.varianceEpsilon ?? 0.001);
  const ka = heap.makeOutput([c], "float32");
  const bias = heap.makeOutput([c], "float32");
  // views after the allocations (a growing memory detaches older ones)
  const [m, v, o, g, k, b] = [mean, variance, offset, scale, ka, bias].map((t) => (t ? heap.typedArrayFromHeap(t) : undefined));
  for (let ch = 0; ch < c; ch++) {
    k![ch] = (g ? g[ch]! : 1) / Math.sqrt(v![ch]! + eps);
    b![ch] = (o ? o[ch]! : 0) - m![ch]! * k![ch]!;
  }
  const out = channelAffine({ inputs: { a: x, ka, bias }, backend: args.backend });
  args.backend.disposeData(ka.dataId);
  args.backend.disposeData(bias.dataId);
  return out;
}

const KERNELS: KernelConfig[] = [
  { kernelName: FusedBatchNorm, backendName: "wasm", kernelFunc: fusedBatchNormInference as unknown as KernelConfig["kernelFunc"] },
  { kernelName: BATCH_NORM_MOMENTS, backendName: "wasm", kernelFunc: moments as unknown as KernelConfig["kernelFunc"] },
  { kernelName: BATCH_NORM_GRAD_SUMS, backendName: "wasm", kernelFunc: gradSums as unknown as KernelConfig["kernelFunc"] },
  { kernelName: CHANNEL_AFFINE, backendName: "wasm", kernelFunc: channelAffine as unknown as KernelConfig["kernelFunc"] },
];

export function registerBatchNormKernels(): void {
  for (const kernel of KERNELS) {
    if (getKernel(kernel.kernelName, kernel.backendName)) unregisterKernel(kernel.kernelName, kernel.backendName);
    registerKernel(kernel);
  }
}

let enabled = true;
/** For benchmarks and tests: use tfjs ops (and tfjs's FusedBatchNorm) instead of our kernels (false), or the kernels where registered (true). */
export function setFusedBatchNorm(on: boolean): void {
  enabled = on;
}

/** The fused kernels when the active backend has them, else undefined (then use tfjs ops). */
export function fusedBatchNormKernels() {
  const backend = tf.getBackend();
  if (!enabled || !getKernel(BATCH_NORM_MOMENTS, backend)) return undefined;
  const run = (name: string, inputs: tf.NamedTensorMap) => tf.engine().runKernel(name, inputs, {});
  return {
    moments: (x: tf.Tensor) => run(BATCH_NORM_MOMENTS, { x }) as [tf.Tensor1D, tf.Tensor1D],
    gradSums: (dy: tf.Tensor, x: tf.Tensor) => run(BATCH_NORM_GRAD_SUMS, { dy, x }) as [tf.Tensor1D, tf.Tensor1D],
    /** a * ka + bias (+ b * kb), per-channel vectors along the last axis */
    affine: <T extends tf.Tensor>(a: T, ka: tf.Tensor1D, bias: tf.Tensor1D, b?: T, kb?: tf.Tensor1D) =>
      run(CHANNEL_AFFINE, b && kb ? { a, ka, bias, b, kb } : { a, ka, bias }) as T,
  };
}
