import type * as tf from "@tensorflow/tfjs-core";

/**
 * The contract between model building (trainer/src/model), the learner (trainer/src/learner) and
 * ONNX export (trainer/src/export). A model is a tree of named layers whose weights live in
 * tf.Variables; layouts follow tfjs: activations NHWC, conv kernels [kh, kw, in, out].
 */

/** The architecture as data: everything needed to rebuild the same model from a checkpoint. */
export interface ArchSpec {
  /** e.g. "fcn", "resblock", "resblock2", "resnet18", "resnet34", "resnet50" */
  name: string;
  nOut: number;
  inChannels: number;
  /** Blocks per stage for resnets; empty for the plain fcn. */
  layers: number[];
  /** 1 for basic blocks, 4 for bottlenecks. */
  expansion: number;
  [key: string]: unknown;
}

/** A trainable weight. `group` drives freezing and discriminative learning rates in fine-tuning. */
export interface Parameter {
  /** Stable dotted path, e.g. "body.2.0.convs.1.conv.weight"; checkpoints and export key on it. */
  name: string;
  variable: tf.Variable;
  group: "body" | "head";
  /** BN and bias params usually get no weight decay. */
  kind: "conv-weight" | "linear-weight" | "bias" | "bn-gamma" | "bn-beta";
}

/** Non-trainable state (BatchNorm running mean / variance), saved in checkpoints and exported. */
export interface BufferTensor {
  name: string;
  variable: tf.Variable;
}

export interface Model {
  readonly arch: ArchSpec;
  /** x: [N, H, W, C] float32 normalised pixels, any H and W. Returns logits [N, nOut]. */
  forward(x: tf.Tensor4D, opts: { training: boolean }): tf.Tensor2D;
  parameters(): Parameter[];
  buffers(): BufferTensor[];
  /** The layer tree, walked by the ONNX exporter. */
  readonly root: LayerNode;
  dispose(): void;
}

/** A node of the layer tree; `kind` tells the exporter how to emit it. */
export type LayerNode =
  | { kind: "sequential"; name: string; children: LayerNode[] }
  | { kind: "conv"; name: string; weight: tf.Variable; bias?: tf.Variable; stride: number; kernelSize: number; padding: number }
  | { kind: "batchnorm"; name: string; gamma: tf.Variable; beta: tf.Variable; runningMean: tf.Variable; runningVar: tf.Variable; eps: number }
  | { kind: "relu"; name: string }
  | { kind: "maxpool"; name: string; kernelSize: number; stride: number; padding: number }
  | { kind: "avgpool"; name: string; kernelSize: number; stride: number; ceilMode: boolean }
  | { kind: "global-avgpool"; name: string }
  | { kind: "flatten"; name: string }
  | { kind: "linear"; name: string; weight: tf.Variable; bias?: tf.Variable }
  /** out = relu(convpath(x) + idpath(x)) */
  | { kind: "residual"; name: string; convpath: LayerNode; idpath: LayerNode; reluAfterAdd: boolean }
  | { kind: "identity"; name: string };
