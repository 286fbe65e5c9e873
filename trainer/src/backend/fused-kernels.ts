import * as tf from "@tensorflow/tfjs-core";
import { getKernel, registerKernel, unregisterKernel } from "@tensorflow/tfjs-core";
import type { KernelBackend, KernelConfig, TensorInfo } from "@tensorflow/tfjs-core";
import { pointerOf, runSplit } from "./simd-kernels.ts";

// Elementwise passes of a training step fused into one wasm kernel each (trainer/wasm/kernels.c), split
// across our threads by elements: Adam's update and ReLU's gradient.

/**
 * One Adam step (trainer/src/learner/optimizer.ts) for one parameter as a single kernel on the wasm
 * backend (trainer/wasm/kernels.c adam_step), split across our threads by elements:
 *   (p, g, m, v) -> (p', m', v')
 * in one pass over the four arrays, where the tfjs ops took a dozen single-threaded passes (66 ms of
 * a 64-px ResNet-18 batch of 64 on 2 threads). Other backends use the ops.
 */
export const ADAM_STEP = "ResnetEdgeAdamStep";

export interface AdamStepAttrs {
  mom: number;
  sqrMom: number;
  eps: number;
  /** 1 - lr * wd, or 1 without weight decay */
  decay: number;
  /** lr / (1 - mom^step) */
  stepSize: number;
  /** 1 / (1 - sqrMom^step) */
  invDebias2: number;
}

/** Elements below which a step is not split (a worker's wake-up costs more than it saves). */
const MIN_PER_THREAD = 1 << 15;

interface HeapBackend extends KernelBackend {
  makeOutput(shape: number[], dtype: "float32"): TensorInfo;
  typedArrayFromHeap(info: TensorInfo): Float32Array;
}

function adamStep({ inputs, backend, attrs }: { inputs: tf.NamedTensorInfoMap; backend: KernelBackend; attrs: AdamStepAttrs }): TensorInfo[] {
  const { p, g, m, v } = inputs as { p: TensorInfo; g: TensorInfo; m: TensorInfo; v: TensorInfo };
  for (const t of [g, m, v]) {
    if (t.dtype !== "float32" || t.shape.join() !== p.shape.join()) throw new Error(`${ADAM_STEP}: every input must be float32 of shape [${p.shape}]`);
  }
  const heap = backend as HeapBackend;
  const n = p.shape.reduce((a, b) => a * b, 1);
  const outs = [heap.makeOutput([...p.shape], "float32"), heap.makeOutput([...p.shape], "float32"), heap.makeOutput([...p.shape], "float32")];
  const hyper = heap.makeOutput([6], "float32");
  heap.typedArrayFromHeap(hyper).set([attrs.mom, attrs.sqrMom, attrs.eps, attrs.decay, attrs.stepSize, attrs.invDebias2]);
  runSplit(backend, "adam_step", [p, g, m, v, ...outs, hyper].map((t) => pointerOf(backend, t)), n, 4, MIN_PER_THREAD);
  backend.disposeData(hyper.dataId);
  return outs;
}

/**
 * ReLU's input gradient, dx = x > 0 ? dy : 0, in one pass split by elements: tfjs's gradient of Relu is
 * dy * cast(step(x)), three single-threaded passes (Step, Cast, Multiply). A NaN in x gives 0 here
 * (NaN there). Used by the gradient registered in learner/gradients.ts where this kernel exists.
 */
export const RELU_GRAD = "ResnetEdgeReluGrad";

function reluGrad({ inputs, backend }: { inputs: tf.NamedTensorInfoMap; backend: KernelBackend }): TensorInfo {
  const { dy, x } = inputs as { dy: TensorInfo; x: TensorInfo };
  if (dy.dtype !== "float32" || x.dtype !== "float32" || dy.shape.join() !== x.shape.join()) throw new Error(`${RELU_GRAD}: dy and x must be float32 of one shape`);
  const dx = (backend as HeapBackend).makeOutput([...x.shape], "float32");
  const n = x.shape.reduce((a, b) => a * b, 1);
  runSplit(backend, "relu_grad", [pointerOf(backend, dy), pointerOf(backend, x), pointerOf(backend, dx)], n, 4, MIN_PER_THREAD * 2);
  return dx;
}

export function registerFusedKernels(): void {
  for (const kernel of [
    { kernelName: ADAM_STEP, backendName: "wasm", kernelFunc: adamStep as unknown as KernelConfig["kernelFunc"] },
    { kernelName: RELU_GRAD, backendName: "wasm", kernelFunc: reluGrad as unknown as KernelConfig["kernelFunc"] },
  ] satisfies KernelConfig[]) {
    if (getKernel(kernel.kernelName, kernel.backendName)) unregisterKernel(kernel.kernelName, kernel.backendName);
    registerKernel(kernel);
  }
}

let enabled = true;
/** For benchmarks and tests: the tfjs ops (false) or the kernel where registered (true). */
export function setFusedAdam(on: boolean): void {
  enabled = on;
}

/** The fused step when the active backend has it, else undefined (then use tfjs ops). */
export function fusedAdamStep(): ((p: tf.Tensor, g: tf.Tensor, m: tf.Tensor, v: tf.Tensor, attrs: AdamStepAttrs) => [tf.Tensor, tf.Tensor, tf.Tensor]) | undefined {
  if (!enabled || !getKernel(ADAM_STEP, tf.getBackend())) return undefined;
  return (p, g, m, v, attrs) => tf.engine().runKernel(ADAM_STEP, { p, g, m, v }, attrs as unknown as tf.NamedAttrMap) as [tf.Tensor, tf.Tensor, tf.Tensor];
}
