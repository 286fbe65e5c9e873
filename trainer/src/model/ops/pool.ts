import * as tf from "@tensorflow/tfjs-core";
import { numericPaddingSupported, symmetricPads } from "./padding.ts";

/** nn.MaxPool2d(kernelSize, stride, padding): padded cells never win (PyTorch pads with -inf). */
export function maxPoolSymmetric(x: tf.Tensor4D, kernelSize: number, stride: number, padding: number, numeric = numericPaddingSupported()): tf.Tensor4D {
  if (padding === 0) return tf.maxPool(x, kernelSize, stride, "valid");
  if (numeric) return tf.maxPool(x, kernelSize, stride, padding);
  return tf.maxPool(tf.pad(x, symmetricPads(padding), -Infinity), kernelSize, stride, "valid");
}

/**
 * nn.AvgPool2d(k, stride=k, ceil_mode=True, padding=0). Output ceil(H/k); a window that runs off
 * the bottom/right edge averages only its valid cells (PyTorch clips the divisor to the input when
 * padding is 0). tfjs 'same' with stride = k puts all the padding at the bottom/right and excludes
 * padded cells from the count: the same windows and the same divisors.
 */
export function avgPoolCeil(x: tf.Tensor4D, kernelSize: number, stride: number): tf.Tensor4D {
  if (kernelSize !== stride) {
    throw new Error(`avgPoolCeil: kernel ${kernelSize} with stride ${stride} is not supported; only kernel = stride (the ResBlock shortcut) matches PyTorch's ceil_mode through 'same'`);
  }
  return tf.avgPool(x, kernelSize, stride, "same");
}
