import * as tf from "@tensorflow/tfjs-core";
import { register } from "node:module";
import { RELU_GRAD } from "../backend/fused-kernels.ts";

/**
 * tfjs-core's CommonJS build (what Node loads for "@tensorflow/tfjs-core") ships no gradient functions;
 * they live only in its ESM build (dist/register_all_gradients.js), which Node cannot load as published
 * (extension-less relative imports). Gradients are registered in a global registry, so loading that ESM
 * file once, through a small resolve hook, makes tf.variableGrads work for every op. Under vitest, vite
 * resolves those imports itself and no hook is needed. Safe to call many times.
 */
let pending: Promise<void> | null = null;

export function ensureGradients(): Promise<void> {
  if (tf.getGradient("Conv2D") && tf.getGradient("Neg")) {
    registerReluGradient();
    return Promise.resolve();
  }
  pending ??= (async () => {
    if (!process.env.VITEST) register("./tfjs-esm-resolve-hook.mjs", import.meta.url);
    await import("@tensorflow/tfjs-core/dist/register_all_gradients.js");
    if (!tf.getGradient("Conv2D")) throw new Error("tfjs gradients did not register: tf.getGradient('Conv2D') is still missing");
    registerReluGradient();
  })();
  return pending;
}

let reluRegistered = false;
/** ReLU's gradient as one kernel where the backend has it (wasm: fused-kernels.ts), else tfjs's formula. */
function registerReluGradient(): void {
  if (reluRegistered) return;
  reluRegistered = true;
  tf.registerGradient({
    kernelName: tf.Relu,
    inputsToSave: ["x"],
    gradFunc: (dy, saved) => {
      const x = saved[0]!;
      const g = dy as tf.Tensor;
      return {
        x: () => tf.getKernel(RELU_GRAD, tf.getBackend()) && g.dtype === "float32" && x.dtype === "float32"
          ? (tf.engine().runKernel(RELU_GRAD, { dy: g, x }) as tf.Tensor)
          : tf.mul(g, tf.cast(tf.step(x), "float32")),
      };
    },
  });
}
