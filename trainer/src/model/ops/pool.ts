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
 * padded cells from the count: the same windows and the same divisors. Its gradient divides by the same
 * counts on every backend (see below).
 */
export function avgPoolCeil(x: tf.Tensor4D, kernelSize: number, stride: number): tf.Tensor4D {
  if (kernelSize !== stride) {
    throw new Error(`avgPoolCeil: kernel ${kernelSize} with stride ${stride} is not supported; only kernel = stride (the ResBlock shortcut) matches PyTorch's ceil_mode through 'same'`);
  }
  const [, h, w] = x.shape;
  // Whole windows, or the wasm backend (our AvgPoolGrad divides by the cells averaged): the plain op.
  if ((h % kernelSize === 0 && w % kernelSize === 0) || tf.getBackend() === "wasm") return tf.avgPool(x, kernelSize, stride, "same");
  // Elsewhere tfjs's AvgPoolGrad (cpu, webgl, webgpu) divides by k*k even where a window cut by the edge
  // averaged fewer cells, so the gradient is written out: each cell gets its window's dy / count.
  const k = kernelSize;
  const counts = (size: number, out: number) => {
    const before = Math.floor((out * k - size) / 2); // 'same' padding before the first window
    return { before, cells: Array.from({ length: out }, (_, i) => Math.min(size, i * k - before + k) - Math.max(0, i * k - before)) };
  };
  const op = tf.customGrad((...args: Array<tf.Tensor | tf.GradSaveFunc>) => {
    const input = args[0] as tf.Tensor4D;
    return {
      value: tf.avgPool(input, k, k, "same"),
      gradFunc: (dy: tf.Tensor) => {
        const [n, ho, wo, c] = dy.shape as [number, number, number, number];
        const rows = counts(h, ho), cols = counts(w, wo);
        const inv = tf.tensor4d(rows.cells.flatMap((r) => cols.cells.map((q) => 1 / (r * q))), [1, ho, wo, 1]);
        // each cell of dy / count repeated k x k times; rank 4 throughout (webgpu tiles higher ranks on the CPU)
        const down = tf.tile(tf.reshape(tf.mul(dy, inv), [n * ho, 1, wo, c]), [1, k, 1, 1]);
        const across = tf.tile(tf.reshape(down, [n * ho * k, wo, 1, c]), [1, 1, k, 1]);
        return tf.slice(tf.reshape(across, [n, ho * k, wo * k, c]), [0, rows.before, cols.before, 0], [n, h, w, c]);
      },
    };
  });
  return op(x) as tf.Tensor4D;
}
