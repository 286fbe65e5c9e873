import type { ParamRegistry } from "./param-registry.ts";
import { BN_EPS } from "./ops/batch-norm.ts";
import type { LayerNode } from "./types.ts";

export interface ConvLayerOptions {
  inChannels: number;
  outChannels: number;
  kernelSize?: number;
  stride?: number;
  /** ReLU after the BatchNorm (fastai act_cls); false for the last conv of a residual branch. */
  relu?: boolean;
  /** BatchZero: gamma starts at 0, so a fresh residual branch adds nothing. */
  zeroGamma?: boolean;
}

/**
 * fastai ConvLayer: conv (no bias, Kaiming normal) -> BatchNorm -> optional ReLU.
 * Padding is (ks-1)//2 on every side, PyTorch style.
 */
export function convLayer(reg: ParamRegistry, name: string, opts: ConvLayerOptions): LayerNode {
  const kernelSize = opts.kernelSize ?? 3;
  const stride = opts.stride ?? 1;
  const padding = Math.floor((kernelSize - 1) / 2);
  const weight = reg.convWeight(`${name}.conv.weight`, kernelSize, opts.inChannels, opts.outChannels, "body");
  const bn = reg.batchNorm(`${name}.bn`, opts.outChannels, opts.zeroGamma ?? false, "body");
  const children: LayerNode[] = [
    { kind: "conv", name: `${name}.conv`, weight, stride, kernelSize, padding },
    { kind: "batchnorm", name: `${name}.bn`, ...bn, eps: BN_EPS },
  ];
  if (opts.relu ?? true) children.push({ kind: "relu", name: `${name}.relu` });
  return { kind: "sequential", name, children };
}
