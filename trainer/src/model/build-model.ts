import { definitionOf, type ArchDefinition } from "./arch-table.ts";
import { convLayer } from "./conv-layer.ts";
import type { ParamRegistry } from "./param-registry.ts";
import { resBlock } from "./res-block.ts";
import type { ArchSpec, LayerNode } from "./types.ts";

/**
 * Builds the layer tree of any architecture in the table:
 *   model = sequential(stem, body, head)
 *   stem  = resnetStem(inChannels, ...spec.stem)                    (empty when no stem)
 *   body  = stage i = makeLayer(i, layers[i]), the first block with stride (i == 0 ? firstStride : 2)
 *   head  = global average pool, flatten, linear(nOut)
 */
export function buildLayerTree(spec: ArchSpec, reg: ParamRegistry): LayerNode {
  const def = definitionOf(spec);
  const stem = resnetStem(reg, [spec.inChannels, ...def.stem]);
  let channels = def.stem.at(-1) ?? spec.inChannels;

  const stages: LayerNode[] = def.widths.map((width, i) => {
    const out = def.block === "res" ? width * def.expansion : width;
    const stage = makeLayer(reg, i, { nLayers: def.layers[i] ?? 1, inChannels: channels, outChannels: out, stride: i === 0 ? def.firstStride : 2, def });
    channels = out;
    return stage;
  });

  const { weight, bias } = reg.linear("head.linear", channels, spec.nOut, "head");
  const head: LayerNode = {
    kind: "sequential",
    name: "head",
    children: [
      { kind: "global-avgpool", name: "head.pool" },
      { kind: "flatten", name: "head.flatten" },
      { kind: "linear", name: "head.linear", weight, bias },
    ],
  };

  return {
    kind: "sequential",
    name: "model",
    children: [
      { kind: "sequential", name: "stem", children: stem },
      { kind: "sequential", name: "body", children: stages },
      head,
    ],
  };
}

/**
 * The book's `_resnet_stem(*sizes)`: a convLayer from each size to the next (the first with stride 2),
 * then MaxPool 3/2 pad 1. `sizes` starts with the input channels; with no further size there is no stem.
 *
 *     def _resnet_stem(*sizes):
 *         return [ConvLayer(sizes[i], sizes[i+1], 3, stride = 2 if i==0 else 1)
 *                 for i in range(len(sizes)-1)] + [nn.MaxPool2d(kernel_size=3, stride=2, padding=1)]
 */
export function resnetStem(reg: ParamRegistry, sizes: readonly number[]): LayerNode[] {
  if (sizes.length < 2) return [];
  const convs = sizes.slice(1).map((out, i) => convLayer(reg, `stem.${i}`, { inChannels: sizes[i]!, outChannels: out, stride: i === 0 ? 2 : 1 }));
  return [...convs, { kind: "maxpool", name: `stem.${convs.length}`, kernelSize: 3, stride: 2, padding: 1 }];
}

/**
 * The book's `_make_layer(idx, n_layers)`: stage `idx` as `nLayers` blocks, the first going from
 * `inChannels` to `outChannels` with `stride`, the rest `outChannels` -> `outChannels` with stride 1.
 * A block is a resBlock (the book's ResNet) or, for the plain net of the chapter's start, a convLayer.
 *
 *     def _make_layer(self, idx, n_layers):
 *         stride = 1 if idx==0 else 2
 *         ch_in,ch_out = self.block_szs[idx:idx+2]
 *         return nn.Sequential(*[ResBlock(ch_in if i==0 else ch_out, ch_out, stride if i==0 else 1)
 *                                for i in range(n_layers)])
 */
export function makeLayer(
  reg: ParamRegistry,
  idx: number,
  opts: { nLayers: number; inChannels: number; outChannels: number; stride: number; def: Pick<ArchDefinition, "block" | "expansion"> },
): LayerNode {
  const blocks = Array.from({ length: opts.nLayers }, (_, j): LayerNode => {
    const name = `body.${idx}.${j}`;
    const inChannels = j === 0 ? opts.inChannels : opts.outChannels;
    const stride = j === 0 ? opts.stride : 1;
    return opts.def.block === "conv"
      ? convLayer(reg, name, { inChannels, outChannels: opts.outChannels, stride })
      : resBlock(reg, name, { inChannels, outChannels: opts.outChannels, stride, expansion: opts.def.expansion });
  });
  return { kind: "sequential", name: `body.${idx}`, children: blocks };
}
