import type * as tf from "@tensorflow/tfjs-core";
import type { LayerNode } from "./types.ts";

/** Depth-first pre-order visit of the layer tree (residual: convpath before idpath). */
export function* walkLayers(node: LayerNode): Generator<LayerNode> {
  yield node;
  if (node.kind === "sequential") for (const child of node.children) yield* walkLayers(child);
  if (node.kind === "residual") {
    yield* walkLayers(node.convpath);
    yield* walkLayers(node.idpath);
  }
}

/** The variables a node holds directly, in a fixed order. */
export function layerVariables(node: LayerNode): tf.Variable[] {
  switch (node.kind) {
    case "conv":
    case "linear":
      return node.bias ? [node.weight, node.bias] : [node.weight];
    case "batchnorm":
      return [node.gamma, node.beta, node.runningMean, node.runningVar];
    default:
      return [];
  }
}
