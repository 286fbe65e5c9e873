import { definitionOf } from "./arch-table.ts";
import { convLayer } from "./conv-layer.ts";
import type { ParamRegistry } from "./param-registry.ts";
import { resBlock } from "./res-block.ts";
import type { ArchSpec, LayerNode } from "./types.ts";

/**
 * Builds the layer tree of any architecture in the table:
 *   model = sequential(stem, body, head)
 *   stem  = convLayers over spec.stem (first stride 2) + MaxPool 3/2 pad 1   (empty when no stem)
 *   body  = stages; stage i = layers[i] blocks, the first with stride (i == 0 ? firstStride : 2)
 *   head  = global average pool, flatten, linear(nOut)
 */
export function buildLayerTree(spec: ArchSpec, reg: ParamRegistry): LayerNode {
  const def = definitionOf(spec);
  let channels = spec.inChannels;

  const stemChildren: LayerNode[] = [];
  def.stem.forEach((out, i) => {
    stemChildren.push(convLayer(reg, `stem.${i}`, { inChannels: channels, outChannels: out, stride: i === 0 ? 2 : 1 }));
    channels = out;
  });
  if (def.stem.length > 0) {
    stemChildren.push({ kind: "maxpool", name: `stem.${def.stem.length}`, kernelSize: 3, stride: 2, padding: 1 });
  }

  const stages: LayerNode[] = def.widths.map((width, i) => {
    const out = def.block === "res" ? width * def.expansion : width;
    const count = def.layers[i] ?? 1;
    const blocks: LayerNode[] = [];
    for (let j = 0; j < count; j++) {
      const name = `body.${i}.${j}`;
      const stride = j > 0 ? 1 : i === 0 ? def.firstStride : 2;
      blocks.push(def.block === "conv"
        ? convLayer(reg, name, { inChannels: channels, outChannels: out, stride })
        : resBlock(reg, name, { inChannels: channels, outChannels: out, stride, expansion: def.expansion }));
      channels = out;
    }
    return { kind: "sequential", name: `body.${i}`, children: blocks };
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
      { kind: "sequential", name: "stem", children: stemChildren },
      { kind: "sequential", name: "body", children: stages },
      head,
    ],
  };
}
