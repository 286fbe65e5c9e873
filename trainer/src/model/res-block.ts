import { convLayer } from "./conv-layer.ts";
import type { ParamRegistry } from "./param-registry.ts";
import type { LayerNode } from "./types.ts";

export interface ResBlockOptions {
  inChannels: number;
  outChannels: number;
  stride: number;
  /** 1: two 3x3 convLayers. >1: bottleneck 1x1 -> 3x3 (strided) -> 1x1 with outChannels/expansion inside. */
  expansion: number;
}

/**
 * fastai book ResBlock: out = relu(convs(x) + idconv(pool(x))).
 * convs end in a BatchZero convLayer without ReLU; pool is AvgPool2d(2, ceil_mode=True) when the
 * stride is 2; idconv is a 1x1 convLayer without ReLU when the channel count changes.
 */
export function resBlock(reg: ParamRegistry, name: string, opts: ResBlockOptions): LayerNode {
  const { inChannels: ni, outChannels: nf, stride, expansion } = opts;
  const convs = `${name}.convs`;
  let convChildren: LayerNode[];
  if (expansion === 1) {
    convChildren = [
      convLayer(reg, `${convs}.0`, { inChannels: ni, outChannels: nf, stride }),
      convLayer(reg, `${convs}.1`, { inChannels: nf, outChannels: nf, relu: false, zeroGamma: true }),
    ];
  } else {
    const mid = nf / expansion;
    if (!Number.isInteger(mid)) throw new Error(`bottleneck ${name}: ${nf} output channels are not divisible by expansion ${expansion}`);
    convChildren = [
      convLayer(reg, `${convs}.0`, { inChannels: ni, outChannels: mid, kernelSize: 1 }),
      convLayer(reg, `${convs}.1`, { inChannels: mid, outChannels: mid, stride }),
      convLayer(reg, `${convs}.2`, { inChannels: mid, outChannels: nf, kernelSize: 1, relu: false, zeroGamma: true }),
    ];
  }

  const idpath = `${name}.idpath`;
  const idChildren: LayerNode[] = [];
  if (stride !== 1) idChildren.push({ kind: "avgpool", name: `${idpath}.pool`, kernelSize: 2, stride: 2, ceilMode: true });
  if (ni !== nf) idChildren.push(convLayer(reg, `${idpath}.idconv`, { inChannels: ni, outChannels: nf, kernelSize: 1, relu: false }));

  return {
    kind: "residual",
    name,
    convpath: { kind: "sequential", name: convs, children: convChildren },
    idpath: idChildren.length > 0 ? { kind: "sequential", name: idpath, children: idChildren } : { kind: "identity", name: idpath },
    reluAfterAdd: true,
  };
}
