import * as tf from "@tensorflow/tfjs-core";
import { fusedBatchNormKernels } from "../../backend/batch-norm-kernels.ts";

/** PyTorch conventions: running = (1 - momentum) * running + momentum * batch statistic. */
export const BN_MOMENTUM = 0.1;
export const BN_EPS = 1e-5;

export interface BatchNormState {
  gamma: tf.Variable;
  beta: tf.Variable;
  runningMean: tf.Variable;
  runningVar: tf.Variable;
  eps: number;
}

const REDUCE_AXES = [0, 1, 2];

/**
 * Training-mode BatchNorm over N, H, W of an NHWC tensor: normalise with the batch mean and the
 * biased batch variance, update the running mean and the *unbiased* running variance (as PyTorch).
 *
 * The backward pass is written by hand (tf.customGrad) with per-channel vectors broadcast along the
 * last axis; the stock gradient of tf.batchNorm materialises full-size tiles of the statistics.
 *   xhat = (x - mean) * invStd,   M = N*H*W
 *   dbeta = sum(dy), dgamma = sum(dy * xhat)
 *   dx = gamma * invStd * (dy - dbeta/M - xhat * dgamma/M)
 * On the wasm backend the full-size passes are our fused kernels (backend/batch-norm-kernels.ts):
 * the moments, the two sums of the backward, and the forward and dx as per-channel affine maps.
 */
export function batchNormTrain(x: tf.Tensor4D, state: BatchNormState, momentum = BN_MOMENTUM): tf.Tensor4D {
  const [n, h, w] = x.shape;
  const count = n * h * w;
  if (count < 2) {
    throw new Error(`BatchNorm in training mode needs more than 1 value per channel, got input ${JSON.stringify(x.shape)}: ` +
      "use a batch size above 1 or larger images, or run the model with training: false");
  }
  const eps = state.eps;
  let batchMean: tf.Tensor1D | undefined;
  let batchVar: tf.Tensor1D | undefined;

  const op = tf.customGrad((...args: Array<tf.Tensor | tf.GradSaveFunc>) => {
    const [xIn, gamma, beta, save] = args as [tf.Tensor4D, tf.Tensor1D, tf.Tensor1D, tf.GradSaveFunc];
    const x4 = xIn;
    const fused = fusedBatchNormKernels();
    let mean: tf.Tensor1D;
    let variance: tf.Tensor1D;
    if (fused) {
      [mean, variance] = fused.moments(x4);
    } else {
      mean = tf.mean(x4, REDUCE_AXES) as tf.Tensor1D;
      variance = tf.mean(tf.squaredDifference(x4, mean), REDUCE_AXES) as tf.Tensor1D;
    }
    batchMean = tf.keep(mean);
    batchVar = tf.keep(variance);
    save([x4, mean, variance, gamma]);
    let value: tf.Tensor4D;
    if (fused) {
      // y = x * scale + (beta - mean * scale), scale = gamma / sqrt(var + eps)
      const scale = tf.mul(gamma, tf.rsqrt(tf.add(variance, eps))) as tf.Tensor1D;
      value = fused.affine(x4, scale, tf.sub(beta, tf.mul(mean, scale)) as tf.Tensor1D);
    } else {
      value = tf.batchNorm(x4, mean, variance, beta, gamma, eps);
    }
    const gradFunc = (dy: tf.Tensor4D, saved: tf.Tensor[]) => {
      const [xs, mu, v, g] = saved as [tf.Tensor4D, tf.Tensor1D, tf.Tensor1D, tf.Tensor1D];
      const dy4 = dy;
      const fusedGrad = fusedBatchNormKernels();
      const invStd = tf.rsqrt(tf.add(v, eps));
      // sum(dy * xhat) = invStd * (sum(dy * x) - mean * sum(dy)): no full-size xhat needed.
      const [dbeta, dyx] = fusedGrad
        ? fusedGrad.gradSums(dy4, xs)
        : [tf.sum(dy4, REDUCE_AXES) as tf.Tensor1D, tf.sum(tf.mul(dy4, xs), REDUCE_AXES) as tf.Tensor1D];
      const dgamma = tf.mul(invStd, tf.sub(dyx, tf.mul(mu, dbeta)));
      const k = tf.mul(g, invStd) as tf.Tensor1D;
      // dx = k*dy - [(x - mean) * (k * invStd * dgamma / M) + k * dbeta / M]; the bracket is one fused
      // batchNorm pass (variance 1, eps 0: plain scale and offset).
      const scale = tf.div(tf.mul(tf.mul(k, invStd), dgamma), count) as tf.Tensor1D;
      const offset = tf.div(tf.mul(k, dbeta), count) as tf.Tensor1D;
      let dx: tf.Tensor4D;
      if (fusedGrad) {
        // the same as one pass: dx = dy * k + x * (-scale) + (mean * scale - offset)
        dx = fusedGrad.affine(dy4, k, tf.sub(tf.mul(mu, scale), offset) as tf.Tensor1D, xs, tf.neg(scale) as tf.Tensor1D);
      } else {
        const correction = tf.batchNorm(xs, mu, tf.onesLike(mu), offset, scale, 0);
        dx = tf.sub(tf.mul(dy4, k), correction);
      }
      return [dx, dgamma, dbeta];
    };
    return { value, gradFunc };
  });

  const y = op(x, state.gamma, state.beta) as tf.Tensor4D;
  const mean = batchMean!;
  const variance = batchVar!;
  tf.tidy(() => {
    const unbiased = tf.mul(variance, count / (count - 1));
    state.runningMean.assign(tf.add(tf.mul(state.runningMean, 1 - momentum), tf.mul(mean, momentum)));
    state.runningVar.assign(tf.add(tf.mul(state.runningVar, 1 - momentum), tf.mul(unbiased, momentum)));
  });
  mean.dispose();
  variance.dispose();
  return y;
}

/** Eval-mode BatchNorm: running statistics. */
export function batchNormEval(x: tf.Tensor4D, state: BatchNormState): tf.Tensor4D {
  return tf.batchNorm(x, state.runningMean as tf.Tensor1D, state.runningVar as tf.Tensor1D, state.beta as tf.Tensor1D, state.gamma as tf.Tensor1D, state.eps);
}
