import * as tf from "@tensorflow/tfjs-core";
import { register } from "node:module";

/**
 * tfjs-core's CommonJS build (what Node loads for "@tensorflow/tfjs-core") ships no gradient functions;
 * they live only in its ESM build (dist/register_all_gradients.js), which Node cannot load as published
 * (extension-less relative imports). Gradients are registered in a global registry, so loading that ESM
 * file once, through a small resolve hook, makes tf.variableGrads work for every op. Under vitest, vite
 * resolves those imports itself and no hook is needed. Safe to call many times.
 */
let pending: Promise<void> | null = null;

export function ensureGradients(): Promise<void> {
  if (tf.getGradient("Conv2D") && tf.getGradient("Neg")) return Promise.resolve();
  pending ??= (async () => {
    if (!process.env.VITEST) register("./tfjs-esm-resolve-hook.mjs", import.meta.url);
    await import("@tensorflow/tfjs-core/dist/register_all_gradients.js");
    if (!tf.getGradient("Conv2D")) throw new Error("tfjs gradients did not register: tf.getGradient('Conv2D') is still missing");
  })();
  return pending;
}
