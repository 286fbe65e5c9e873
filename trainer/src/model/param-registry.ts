import * as tf from "@tensorflow/tfjs-core";
import { kaimingStd, linearBound, normalArray, seededRandom, uniformArray } from "./init.ts";
import type { BufferTensor, Parameter } from "./types.ts";

/**
 * Creates the model's tf.Variables under stable dotted names and records them as Parameters
 * (trainable) or BufferTensors (BatchNorm running stats). Names are unique; a duplicate is a bug.
 */
let nextModelId = 0;

export class ParamRegistry {
  readonly params: Parameter[] = [];
  readonly buffers: BufferTensor[] = [];
  private readonly names = new Set<string>();
  private readonly random: () => number;
  /** tfjs keeps one global namespace of variable names; prefix ours so two models can coexist. */
  private readonly scope: string;

  constructor(seed: number) {
    this.random = seededRandom(seed);
    this.scope = `model${nextModelId++}`;
  }

  private claim(name: string): string {
    if (this.names.has(name)) throw new Error(`bug: variable name "${name}" is used twice in the model`);
    this.names.add(name);
    return `${this.scope}/${name}`;
  }

  private param(name: string, values: Float32Array, shape: number[], kind: Parameter["kind"], group: Parameter["group"]): tf.Variable {
    const variable = tf.variable(tf.tensor(values, shape, "float32"), true, this.claim(name));
    this.params.push({ name, variable, group, kind });
    return variable;
  }

  /** Conv kernel [kh, kw, in, out], Kaiming normal. */
  convWeight(name: string, kernelSize: number, inChannels: number, outChannels: number, group: Parameter["group"]): tf.Variable {
    const size = kernelSize * kernelSize * inChannels * outChannels;
    const std = kaimingStd(kernelSize * kernelSize * inChannels);
    return this.param(name, normalArray(size, std, this.random), [kernelSize, kernelSize, inChannels, outChannels], "conv-weight", group);
  }

  /** Linear weight [in, out] (x @ W) and bias [out], PyTorch's default uniform init. */
  linear(name: string, inFeatures: number, outFeatures: number, group: Parameter["group"]): { weight: tf.Variable; bias: tf.Variable } {
    const bound = linearBound(inFeatures);
    const weight = this.param(`${name}.weight`, uniformArray(inFeatures * outFeatures, bound, this.random), [inFeatures, outFeatures], "linear-weight", group);
    const bias = this.param(`${name}.bias`, uniformArray(outFeatures, bound, this.random), [outFeatures], "bias", group);
    return { weight, bias };
  }

  /** BatchNorm gamma/beta (trainable) and running mean/var (buffers). `zeroGamma` = BatchZero. */
  batchNorm(name: string, channels: number, zeroGamma: boolean, group: Parameter["group"]) {
    const gamma = this.param(`${name}.weight`, new Float32Array(channels).fill(zeroGamma ? 0 : 1), [channels], "bn-gamma", group);
    const beta = this.param(`${name}.bias`, new Float32Array(channels), [channels], "bn-beta", group);
    const runningMean = this.buffer(`${name}.running_mean`, new Float32Array(channels));
    const runningVar = this.buffer(`${name}.running_var`, new Float32Array(channels).fill(1));
    return { gamma, beta, runningMean, runningVar };
  }

  private buffer(name: string, values: Float32Array): tf.Variable {
    const variable = tf.variable(tf.tensor1d(values, "float32"), false, this.claim(name));
    this.buffers.push({ name, variable });
    return variable;
  }
}
