import * as tf from "@tensorflow/tfjs-core";
import { batchNormEval, batchNormTrain } from "./ops/batch-norm.ts";
import { conv2dSymmetric } from "./ops/conv.ts";
import { avgPoolCeil, maxPoolSymmetric } from "./ops/pool.ts";
import type { LayerNode } from "./types.ts";

/**
 * Runs the layer tree: the same tree the ONNX exporter walks, so what trains is what exports.
 * Activations are NHWC until "flatten", then [N, features].
 */
export function runLayer(node: LayerNode, x: tf.Tensor, training: boolean): tf.Tensor {
  switch (node.kind) {
    case "sequential":
      return node.children.reduce((acc, child) => runLayer(child, acc, training), x);
    case "conv": {
      const y = conv2dSymmetric(x as tf.Tensor4D, node.weight as tf.Tensor4D, node.stride, node.padding);
      return node.bias ? tf.add(y, node.bias) : y;
    }
    case "batchnorm":
      return training ? batchNormTrain(x as tf.Tensor4D, node) : batchNormEval(x as tf.Tensor4D, node);
    case "relu":
      return tf.relu(x);
    case "maxpool":
      return maxPoolSymmetric(x as tf.Tensor4D, node.kernelSize, node.stride, node.padding);
    case "avgpool":
      if (!node.ceilMode) throw new Error(`avgpool ${node.name}: only ceil_mode=True is implemented`);
      return avgPoolCeil(x as tf.Tensor4D, node.kernelSize, node.stride);
    case "global-avgpool":
      return tf.mean(x, [1, 2], true);
    case "flatten":
      return tf.reshape(x, [x.shape[0], -1]);
    case "linear": {
      const y = tf.matMul(x as tf.Tensor2D, node.weight as tf.Tensor2D);
      return node.bias ? tf.add(y, node.bias) : y;
    }
    case "residual": {
      const sum = tf.add(runLayer(node.convpath, x, training), runLayer(node.idpath, x, training));
      return node.reluAfterAdd ? tf.relu(sum) : sum;
    }
    case "identity":
      return x;
  }
}
