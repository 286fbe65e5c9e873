import * as tf from "@tensorflow/tfjs-core";
import { buildLayerTree } from "./build-model.ts";
import { runLayer } from "./forward.ts";
import { ParamRegistry } from "./param-registry.ts";
import type { ArchSpec, Model } from "./types.ts";

export interface CreateModelOptions {
  /** Seed of the weight initialisation; the same seed gives the same weights on every backend. */
  seed?: number;
}

/** Builds a model from its spec (see arch-table.ts: archSpec(name, { nOut })). */
export function createModel(spec: ArchSpec, opts: CreateModelOptions = {}): Model {
  const reg = new ParamRegistry(opts.seed ?? 0);
  const root = buildLayerTree(spec, reg);
  const params = reg.params;
  const buffers = reg.buffers;
  return {
    arch: spec,
    root,
    forward(x, { training }) {
      if (x.rank !== 4 || x.shape[3] !== spec.inChannels) {
        throw new Error(`model ${spec.name} expects NHWC input [N, H, W, ${spec.inChannels}], got ${JSON.stringify(x.shape)}`);
      }
      return tf.tidy(() => runLayer(root, x, training) as tf.Tensor2D);
    },
    parameters: () => [...params],
    buffers: () => [...buffers],
    dispose() {
      for (const p of params) p.variable.dispose();
      for (const b of buffers) b.variable.dispose();
    },
  };
}
