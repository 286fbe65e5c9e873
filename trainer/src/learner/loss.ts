import * as tf from "@tensorflow/tfjs-core";

/**
 * Cross-entropy on soft targets, which covers plain labels, label smoothing and mixup with one formula:
 * targets = (1 - eps) * mix(onehot) + eps / nClasses;  loss = mean_over_batch(-sum(targets * logSoftmax)).
 * With eps = 0 and no mixup this is nn.CrossEntropyLoss; with eps > 0 it equals fastai's
 * LabelSmoothingCrossEntropy.
 */
export interface LossOptions {
  labelSmoothing?: number;
  /** Mixup: a fraction `lambda` of each target comes from `labels`, the rest from `mixLabels`. */
  mix?: { lambda: number; mixLabels: tf.Tensor1D };
}

export function softTargets(labels: tf.Tensor1D, nClasses: number, opts: LossOptions = {}): tf.Tensor2D {
  return tf.tidy(() => {
    let t = tf.cast(tf.oneHot(tf.cast(labels, "int32"), nClasses), "float32") as tf.Tensor2D;
    if (opts.mix) {
      const other = tf.cast(tf.oneHot(tf.cast(opts.mix.mixLabels, "int32"), nClasses), "float32");
      t = tf.add(tf.mul(t, opts.mix.lambda), tf.mul(other, 1 - opts.mix.lambda));
    }
    const eps = opts.labelSmoothing ?? 0;
    if (eps > 0) t = tf.add(tf.mul(t, 1 - eps), eps / nClasses);
    return t;
  });
}

/** Mean cross-entropy of `logits` [N, C] against integer `labels` [N]. */
export function crossEntropy(logits: tf.Tensor2D, labels: tf.Tensor1D, opts: LossOptions = {}): tf.Scalar {
  return tf.tidy(() => {
    const targets = softTargets(labels, logits.shape[1], opts);
    const logp = tf.logSoftmax(logits);
    return tf.neg(tf.mean(tf.sum(tf.mul(targets, logp), 1))) as tf.Scalar;
  });
}

/** Number of rows whose argmax equals the label. */
export function correctCount(logits: tf.Tensor2D, labels: tf.Tensor1D): tf.Scalar {
  return tf.tidy(() => tf.sum(tf.cast(tf.equal(tf.argMax(logits, 1), tf.cast(labels, "int32")), "float32")) as tf.Scalar);
}
