import type * as tf from "@tensorflow/tfjs-core";

/** A mini-batch: normalised NHWC pixels and integer class indices. The consumer disposes both. */
export interface Batch {
  x: tf.Tensor4D;
  y: tf.Tensor1D;
}

/** One split. `batches(epoch)` is deterministic in (seed, epoch), so a resumed run sees the same data. */
export interface BatchSource {
  readonly nItems: number;
  readonly nBatches: number;
  batches(epoch: number): AsyncIterable<Batch>;
}

export interface DataLoaders {
  train: BatchSource;
  valid: BatchSource;
  /** Class wnids in label-index order. */
  classes: string[];
  /** Input size (square) the batches come at. */
  size: number;
}
