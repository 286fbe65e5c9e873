import * as tf from "@tensorflow/tfjs-core";

/**
 * Padding follows PyTorch: `padding` rows/columns on every side (symmetric), output size
 * floor((H + 2p - k) / s) + 1, so results do not depend on the parity of the image size.
 *
 * The cpu and wasm backends take a numeric `pad` with exactly these semantics (their pooling skips
 * padded cells, i.e. -inf for max and "valid elements only" for average). tfjs-node ("tensorflow")
 * rejects numeric padding, so there we pad explicitly and run 'valid'.
 */
export function numericPaddingSupported(): boolean {
  return tf.getBackend() !== "tensorflow";
}

/** [[0,0],[p,p],[p,p],[0,0]] for tf.pad on NHWC tensors. */
export function symmetricPads(padding: number): Array<[number, number]> {
  return [[0, 0], [padding, padding], [padding, padding], [0, 0]];
}
