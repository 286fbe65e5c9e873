import * as tf from "@tensorflow/tfjs-core";
import { numericPaddingSupported, symmetricPads } from "./padding.ts";

/**
 * 2-D convolution, NHWC input, kernel [kh, kw, in, out], symmetric PyTorch padding.
 * Stride 1 with an odd kernel and padding (k-1)/2 is exactly 'same' (no copy); otherwise numeric
 * padding where the backend supports it, else tf.pad + 'valid'.
 */
export function conv2dSymmetric(x: tf.Tensor4D, weight: tf.Tensor4D, stride: number, padding: number, numeric = numericPaddingSupported()): tf.Tensor4D {
  const kernelSize = weight.shape[0];
  if (padding === 0) return tf.conv2d(x, weight, stride, "valid");
  if (stride === 1 && kernelSize % 2 === 1 && padding === (kernelSize - 1) / 2 && weight.shape[1] === kernelSize) {
    return tf.conv2d(x, weight, 1, "same");
  }
  if (numeric) return tf.conv2d(x, weight, stride, padding);
  return tf.conv2d(tf.pad(x, symmetricPads(padding)), weight, stride, "valid");
}
