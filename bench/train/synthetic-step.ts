import * as tf from "@tensorflow/tfjs-core";
import { archSpec, createModel } from "../../trainer/src/model/index.ts";

/**
 * The benchmarks' training step: a model of `arch` (10 classes, seed 0) on one fixed random batch,
 * forward + backward + a plain SGD update (lr 1e-3). Returns the step, which gives the loss (the caller
 * reads and disposes it). Shared by run.ts's step-worker, kernels.ts, scaling.ts and ab.ts.
 */
export function syntheticStep(arch: string, size: number, batch: number): () => tf.Scalar {
  const model = createModel(archSpec(arch, { nOut: 10 }), { seed: 0 });
  const vars = model.parameters().map((p) => p.variable);
  const x = tf.randomNormal([batch, size, size, 3]) as tf.Tensor4D;
  const labels = tf.oneHot(tf.tensor1d(Array.from({ length: batch }, (_, i) => i % 10), "int32"), 10);
  return () => tf.tidy(() => {
    const { value, grads } = tf.variableGrads(() => tf.losses.softmaxCrossEntropy(labels, model.forward(x, { training: true })) as tf.Scalar, vars);
    for (const v of vars) v.assign(tf.sub(v, tf.mul(grads[v.name]!, 1e-3)));
    return value;
  });
}
