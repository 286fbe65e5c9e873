import * as tf from "@tensorflow/tfjs-core";
import { expect } from "vitest";
import { fusedBatchNormKernels } from "../../trainer/src/backend/batch-norm-kernels.ts";

// Shared by kernels.test.ts (1 thread) and kernels-threads.test.ts (split across 2 threads): the
// fused BatchNorm kernels on wasm against the same quantities from tfjs ops on the cpu backend.

export const BN_SHAPES: number[][] = [
  [2, 3, 3, 1], [3, 5, 7, 3], [2, 4, 4, 5], [1, 9, 11, 17], [4, 8, 8, 64], [2, 20, 20, 12], [3, 1, 1, 40], [700, 6],
];

function input(shape: number[], seed: number, offset: number): Float32Array {
  // per-channel offsets and scales, as activations have
  return tf.tidy(() => {
    const c = shape[shape.length - 1]!;
    const ch = tf.range(0, c);
    return tf.add(tf.mul(tf.randomNormal(shape, 0, 1, "float32", seed), tf.add(ch, 1)), tf.mul(ch, offset)).dataSync() as Float32Array;
  });
}

function close(got: ArrayLike<number>, want: ArrayLike<number>, rel: number, what: string): void {
  expect(got.length, what).toBe(want.length);
  let diff = 0;
  let scale = 0;
  for (let i = 0; i < want.length; i++) {
    diff = Math.max(diff, Math.abs(got[i]! - want[i]!));
    scale = Math.max(scale, Math.abs(want[i]!));
  }
  expect(diff, what).toBeLessThanOrEqual(rel * Math.max(1, scale));
}

export async function checkBatchNormKernels(shape: number[]): Promise<void> {
  const c = shape[shape.length - 1]!;
  const xv = input(shape, 11, 3);
  const dyv = input(shape, 12, -1);
  const kav = input([c], 13, 0.5);
  const kbv = input([c], 14, 0.25);
  const biasv = input([c], 15, 1);
  const axes = shape.slice(0, -1).map((_, i) => i);

  await tf.setBackend("cpu");
  const ref = tf.tidy(() => {
    const [x, dy, ka, kb, bias] = [tf.tensor(xv, shape), tf.tensor(dyv, shape), tf.tensor1d(kav), tf.tensor1d(kbv), tf.tensor1d(biasv)];
    const { mean, variance } = tf.moments(x, axes);
    return [mean, variance, tf.sum(dy, axes), tf.sum(tf.mul(dy, x), axes), tf.add(tf.mul(x, ka), bias), tf.add(tf.add(tf.mul(dy, ka), tf.mul(x, kb)), bias)]
      .map((t) => t.dataSync() as Float32Array);
  });

  await tf.setBackend("wasm");
  const fused = fusedBatchNormKernels();
  expect(fused, "the wasm backend has the fused kernels").toBeDefined();
  const got = tf.tidy(() => {
    const [x, dy, ka, kb, bias] = [tf.tensor(xv, shape), tf.tensor(dyv, shape), tf.tensor1d(kav), tf.tensor1d(kbv), tf.tensor1d(biasv)];
    const [mean, variance] = fused!.moments(x);
    const [sumDy, sumDyX] = fused!.gradSums(dy, x);
    return [mean, variance, sumDy, sumDyX, fused!.affine(x, ka, bias), fused!.affine(dy, ka, bias, x, kb)].map((t) => t.dataSync() as Float32Array);
  });
  const names = ["mean", "variance", "sum dy", "sum dy*x", "x*ka+bias", "dy*ka+x*kb+bias"];
  // float32 sums in another order: relative to the largest entry
  names.forEach((name, i) => close(got[i]!, ref[i]!, 1e-5, `${shape.join("x")} ${name}`));
}

/** tf.batchNorm (the FusedBatchNorm kernel, inference) on wasm (ours) against the cpu backend, with and without scale and offset. */
export async function checkInferenceBatchNorm(shape: number[]): Promise<void> {
  const c = shape[shape.length - 1]!;
  const xv = input(shape, 21, 2);
  const [mv, vv, ov, sv] = [input([c], 22, 0.5), input([c], 23, 0).map((v) => Math.abs(v) + 0.1), input([c], 24, 1), input([c], 25, -0.5)];
  for (const [withOffset, withScale] of [[true, true], [false, false], [true, false]] as const) {
    const run = () => tf.tidy(() => tf.batchNorm(tf.tensor(xv, shape) as unknown as tf.Tensor4D, tf.tensor1d(mv), tf.tensor1d(vv),
      withOffset ? tf.tensor1d(ov) : undefined, withScale ? tf.tensor1d(sv) : undefined, 1e-5).dataSync() as Float32Array);
    await tf.setBackend("cpu");
    const want = run();
    await tf.setBackend("wasm");
    close(run(), want, 1e-5, `${shape.join("x")} batchNorm offset ${withOffset} scale ${withScale}`);
  }
}
