/**
 * tfjs model -> ONNX. Walks the model's LayerNode tree (trainer/src/model/types.ts) and emits one ONNX
 * node per layer, named after the layer. BatchNorm that directly follows a conv is folded into the
 * conv's weights and bias (eval-mode BN is an affine map per output channel). Layouts: tfjs conv
 * kernels [kh, kw, in, out] become ONNX OIHW; activations are NCHW in ONNX.
 *
 * Padding and pooling reproduce the trainer exactly: convs pad symmetrically by `padding`
 * (PyTorch semantics), MaxPool pads with -inf, AvgPool(2, ceil_mode) averages only the valid elements
 * of a partial window (count_include_pad=0), which is what tfjs avgPool 'same' computes.
 */
import type * as tf from "@tensorflow/tfjs-core";
import { GraphBuilder } from "../onnx/graph-builder.ts";
import type { LayerNode, Model } from "../model/types.ts";

export interface ExportOptions {
  opset?: number;
  /** Stored in the ONNX metadata. */
  metadata?: Record<string, string>;
  /** Fold BN into convs (default true). Off only for debugging the exporter itself. */
  foldBatchNorm?: boolean;
}

type ConvNode = Extract<LayerNode, { kind: "conv" }>;
type BnNode = Extract<LayerNode, { kind: "batchnorm" }>;

/**
 * Every weight and BN buffer of the model, read back with async reads: on the webgpu backend the
 * synchronous dataSync() needs an OffscreenCanvas, which Node lacks (see backend/webgpu.ts).
 */
async function readWeights(model: Model): Promise<Map<tf.Variable, Float32Array>> {
  const vars = [...model.parameters(), ...model.buffers()].map((p) => p.variable);
  const data = await Promise.all(vars.map((v) => v.data() as Promise<Float32Array>));
  return new Map(vars.map((v, i) => [v, data[i]!]));
}

/** [kh, kw, in, out] -> [out, in, kh, kw] */
function hwioToOihw(w: Float32Array, [kh, kw, ci, co]: number[]): Float32Array {
  const out = new Float32Array(w.length);
  for (let y = 0; y < kh!; y++)
    for (let x = 0; x < kw!; x++)
      for (let i = 0; i < ci!; i++)
        for (let o = 0; o < co!; o++) out[((o * ci! + i) * kh! + y) * kw! + x] = w[((y * kw! + x) * ci! + i) * co! + o]!;
  return out;
}

/** Fold eval-mode BatchNorm into a conv: W' = W * s, b' = beta + (b - mean) * s with s = gamma / sqrt(var + eps). */
export function foldBatchNorm(
  oihw: Float32Array,
  outChannels: number,
  bias: Float32Array | undefined,
  bn: { gamma: Float32Array; beta: Float32Array; mean: Float32Array; variance: Float32Array; eps: number },
): { weight: Float32Array; bias: Float32Array } {
  const per = oihw.length / outChannels;
  const weight = new Float32Array(oihw.length);
  const newBias = new Float32Array(outChannels);
  for (let o = 0; o < outChannels; o++) {
    const s = bn.gamma[o]! / Math.sqrt(bn.variance[o]! + bn.eps);
    for (let k = 0; k < per; k++) weight[o * per + k] = oihw[o * per + k]! * s;
    newBias[o] = bn.beta[o]! + ((bias ? bias[o]! : 0) - bn.mean[o]!) * s;
  }
  return { weight, bias: newBias };
}

class Emitter {
  constructor(
    readonly g: GraphBuilder,
    readonly fold: boolean,
    private readonly weights: Map<tf.Variable, Float32Array>,
  ) {}

  private values(v: tf.Variable): Float32Array {
    const data = this.weights.get(v);
    if (!data) throw new Error(`bug: ${v.name} is in the layer tree but not among the model's parameters and buffers`);
    return data;
  }

  emit(node: LayerNode, x: string): string {
    switch (node.kind) {
      case "sequential":
        return this.sequential(node.children, x);
      case "conv":
        return this.conv(node, undefined, x);
      case "batchnorm":
        return this.batchnorm(node, x);
      case "relu":
        return this.g.node("Relu", [x], [this.g.fresh(node.name)])[0]!;
      case "maxpool":
        return this.g.node("MaxPool", [x], [this.g.fresh(node.name)], {
          kernel_shape: [node.kernelSize, node.kernelSize],
          strides: [node.stride, node.stride],
          pads: [node.padding, node.padding, node.padding, node.padding],
        })[0]!;
      case "avgpool":
        return this.g.node("AveragePool", [x], [this.g.fresh(node.name)], {
          kernel_shape: [node.kernelSize, node.kernelSize],
          strides: [node.stride, node.stride],
          ceil_mode: node.ceilMode ? 1 : 0,
          count_include_pad: 0,
        })[0]!;
      case "global-avgpool":
        return this.g.node("GlobalAveragePool", [x], [this.g.fresh(node.name)])[0]!;
      case "flatten":
        return this.g.node("Flatten", [x], [this.g.fresh(node.name)], { axis: 1 })[0]!;
      case "linear": {
        const [inF, outF] = node.weight.shape as number[];
        const w = this.g.initializer(`${node.name}.weight`, [inF!, outF!], this.values(node.weight));
        const inputs = [x, w];
        if (node.bias) inputs.push(this.g.initializer(`${node.name}.bias`, [outF!], this.values(node.bias)));
        return this.g.node("Gemm", inputs, [this.g.fresh(node.name)])[0]!;
      }
      case "residual": {
        const a = this.emit(node.convpath, x);
        const b = this.emit(node.idpath, x);
        const sum = this.g.node("Add", [a, b], [this.g.fresh(`${node.name}.add`)])[0]!;
        return node.reluAfterAdd ? this.g.node("Relu", [sum], [this.g.fresh(`${node.name}.relu`)])[0]! : sum;
      }
      case "identity":
        return x;
    }
  }

  private sequential(children: LayerNode[], x: string): string {
    for (let i = 0; i < children.length; i++) {
      const c = children[i]!;
      const next = children[i + 1];
      if (this.fold && c.kind === "conv" && next?.kind === "batchnorm") {
        x = this.conv(c, next, x);
        i++;
      } else {
        x = this.emit(c, x);
      }
    }
    return x;
  }

  private conv(node: ConvNode, bn: BnNode | undefined, x: string): string {
    const shape = node.weight.shape as number[];
    const [kh, kw, , co] = shape;
    let weight = hwioToOihw(this.values(node.weight), shape);
    let bias = node.bias ? this.values(node.bias) : undefined;
    if (bn) {
      ({ weight, bias } = foldBatchNorm(weight, co!, bias, {
        gamma: this.values(bn.gamma),
        beta: this.values(bn.beta),
        mean: this.values(bn.runningMean),
        variance: this.values(bn.runningVar),
        eps: bn.eps,
      }));
    }
    const w = this.g.initializer(`${node.name}.weight`, [co!, shape[2]!, kh!, kw!], weight);
    const inputs = [x, w];
    if (bias) inputs.push(this.g.initializer(`${node.name}.bias`, [co!], bias));
    const p = node.padding;
    return this.g.node("Conv", inputs, [this.g.fresh(node.name)], {
      kernel_shape: [kh!, kw!],
      strides: [node.stride, node.stride],
      pads: [p, p, p, p],
    })[0]!;
  }

  private batchnorm(node: BnNode, x: string): string {
    const n = node.name;
    const inputs = [
      x,
      this.g.initializer(`${n}.weight`, [node.gamma.size], this.values(node.gamma)),
      this.g.initializer(`${n}.bias`, [node.beta.size], this.values(node.beta)),
      this.g.initializer(`${n}.running_mean`, [node.runningMean.size], this.values(node.runningMean)),
      this.g.initializer(`${n}.running_var`, [node.runningVar.size], this.values(node.runningVar)),
    ];
    return this.g.node("BatchNormalization", inputs, [this.g.fresh(n)], { epsilon: { float: node.eps } })[0]!;
  }
}

/**
 * Export a model to ONNX bytes. Input `input` [N, 3, H, W] (N, H, W symbolic), output `logits` [N, nOut].
 * The graph takes NCHW, like every ONNX vision model; the tfjs model takes NHWC, so callers comparing
 * the two transpose their input once.
 */
export async function exportOnnx(model: Model, opts: ExportOptions = {}): Promise<Uint8Array> {
  const weights = await readWeights(model);
  const g = new GraphBuilder(model.arch.name);
  g.input("input", ["N", model.arch.inChannels, "H", "W"]);
  const emitter = new Emitter(g, opts.foldBatchNorm ?? true, weights);
  const last = emitter.emit(model.root, "input");
  g.node("Identity", [last], ["logits"], {}, "logits");
  g.output("logits", ["N", model.arch.nOut]);
  return g.build({ opset: opts.opset ?? 19, metadata: { architecture: JSON.stringify(model.arch), ...(opts.metadata ?? {}) } });
}
