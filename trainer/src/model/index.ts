export { ARCH_NAMES, ARCHITECTURES, archSpec, definitionOf, isArchName, totalStride } from "./arch-table.ts";
export type { ArchDefinition, ArchName } from "./arch-table.ts";
export { createModel } from "./create-model.ts";
export type { CreateModelOptions } from "./create-model.ts";
export { convLayer } from "./conv-layer.ts";
export { resBlock } from "./res-block.ts";
export { runLayer } from "./forward.ts";
export { walkLayers, layerVariables } from "./walk.ts";
export type * from "./types.ts";
