// Shared by the learner, lr-find and checkpoint tests: C's real fcn on a small synthetic task that a
// conv net can learn in a few steps (which half of the image is bright), served as a BatchSource.
import * as tf from "@tensorflow/tfjs-core";
import { initBackend } from "../../trainer/src/backend/init-backend.ts";
import type { BatchSource, DataLoaders } from "../../trainer/src/data/types.ts";
import type { Checkpoint } from "../../trainer/src/learner/checkpoint.ts";
import { ensureGradients } from "../../trainer/src/learner/gradients.ts";
import { archSpec, createModel, type Model } from "../../trainer/src/model/index.ts";

export async function setupTfjs(): Promise<void> {
  await initBackend("wasm");
  await ensureGradients();
}

export const SIZE = 16;

export function syntheticSource(n: number, bs: number, seed: number): BatchSource {
  const per = SIZE * SIZE * 3;
  const xs = new Float32Array(n * per);
  const ys = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    ys[i] = i % 2;
    for (let h = 0; h < SIZE; h++) {
      for (let w = 0; w < SIZE; w++) {
        for (let c = 0; c < 3; c++) {
          const bright = (w < SIZE / 2) === (ys[i] === 0);
          xs[i * per + (h * SIZE + w) * 3 + c] = (bright ? 1 : -1) + 0.8 * Math.sin(seed + i * 7.3 + h * 2.1 + w * 1.3 + c);
        }
      }
    }
  }
  return {
    nItems: n,
    nBatches: Math.floor(n / bs),
    async *batches() {
      for (let b = 0; b + bs <= n; b += bs) {
        yield { x: tf.tensor4d(xs.slice(b * per, (b + bs) * per), [bs, SIZE, SIZE, 3]), y: tf.tensor1d(ys.slice(b, b + bs), "int32") };
      }
    },
  };
}

export function syntheticLoaders(): DataLoaders {
  return { train: syntheticSource(64, 16, 1), valid: syntheticSource(32, 32, 2), classes: ["left", "right"], size: SIZE };
}

export function tinyModel(seed = 1): Model {
  return createModel(archSpec("fcn", { nOut: 2 }), { seed });
}

/** Every parameter and buffer value, by name. */
export function weightsOf(model: Model): Map<string, Float32Array> {
  const out = new Map<string, Float32Array>();
  for (const p of model.parameters()) out.set(p.name, p.variable.dataSync() as Float32Array);
  for (const b of model.buffers()) out.set(b.name, b.variable.dataSync() as Float32Array);
  return out;
}

export function maxAbsDiff(a: Map<string, Float32Array>, b: Map<string, Float32Array>): number {
  let d = 0;
  for (const [k, va] of a) {
    const vb = b.get(k)!;
    for (let i = 0; i < va.length; i++) d = Math.max(d, Math.abs(va[i]! - vb[i]!));
  }
  return d;
}

/** The largest absolute difference between two checkpoints' tensors (weights, buffers, optimiser state), by name. */
export function maxCheckpointDiff(a: Checkpoint, b: Checkpoint): number {
  let max = 0;
  for (const [name, e] of a.data) {
    const other = b.data.get(name)!.values;
    for (let i = 0; i < e.values.length; i++) max = Math.max(max, Math.abs(e.values[i]! - other[i]!));
  }
  return max;
}
