import type { ArchSpec } from "./types.ts";

/**
 * Every architecture as data (fastai book ch. 14). One builder (build-model.ts) reads these fields;
 * there is no code per variant.
 *
 * - `stem`: output channels of the stem's convLayers (first one stride 2), followed by MaxPool 3/2
 *   pad 1; empty = no stem.
 * - `block`: "conv" = a single convLayer per block; "res" = resBlock (basic when expansion is 1,
 *   bottleneck 1x1-3x3-1x1 when expansion > 1).
 * - `widths`: output channels of each stage before expansion. A stage's input is the previous
 *   stage's output (or the stem's output, or `inChannels`).
 * - `layers`: blocks per stage (an absent entry means 1).
 * - `firstStride`: stride of the first stage's first block; later stages always start with stride 2.
 */
export interface ArchDefinition {
  stem: number[];
  block: "conv" | "res";
  widths: number[];
  layers: number[];
  expansion: number;
  firstStride: 1 | 2;
}

const PLAIN_WIDTHS = [16, 32, 64, 128, 256];
const RESNET_WIDTHS = [64, 128, 256, 512];
const XRESNET_STEM = [32, 32, 64];

export const ARCHITECTURES = {
  /** book: block(ni,nf) = ConvLayer(ni, nf, stride=2), 3->16->32->64->128->256, pool, linear */
  fcn: { stem: [], block: "conv", widths: PLAIN_WIDTHS, layers: [], expansion: 1, firstStride: 2 },
  /** book: same net with ResBlock(ni, nf, stride=2) as the block */
  resblock: { stem: [], block: "res", widths: PLAIN_WIDTHS, layers: [1, 1, 1, 1, 1], expansion: 1, firstStride: 2 },
  /** book: Sequential(ResBlock(ni, nf, stride=2), ResBlock(nf, nf)) per stage */
  resblock2: { stem: [], block: "res", widths: PLAIN_WIDTHS, layers: [2, 2, 2, 2, 2], expansion: 1, firstStride: 2 },
  resnet18: { stem: XRESNET_STEM, block: "res", widths: RESNET_WIDTHS, layers: [2, 2, 2, 2], expansion: 1, firstStride: 1 },
  resnet34: { stem: XRESNET_STEM, block: "res", widths: RESNET_WIDTHS, layers: [3, 4, 6, 3], expansion: 1, firstStride: 1 },
  resnet50: { stem: XRESNET_STEM, block: "res", widths: RESNET_WIDTHS, layers: [3, 4, 6, 3], expansion: 4, firstStride: 1 },
} as const satisfies Record<string, ArchDefinition>;

export type ArchName = keyof typeof ARCHITECTURES;

export const ARCH_NAMES = Object.keys(ARCHITECTURES) as ArchName[];

export function isArchName(name: string): name is ArchName {
  return Object.hasOwn(ARCHITECTURES, name);
}

/** The ArchSpec (saved in checkpoints) for a named architecture. */
export function archSpec(name: string, opts: { nOut: number; inChannels?: number }): ArchSpec {
  if (!isArchName(name)) {
    throw new Error(`unknown architecture "${name}": choose one of ${ARCH_NAMES.join(", ")}`);
  }
  if (!Number.isInteger(opts.nOut) || opts.nOut < 1) {
    throw new Error(`nOut is ${opts.nOut}: it must be a positive integer (the number of classes)`);
  }
  const def: ArchDefinition = ARCHITECTURES[name];
  return {
    name,
    nOut: opts.nOut,
    inChannels: opts.inChannels ?? 3,
    layers: [...def.layers],
    expansion: def.expansion,
    stem: [...def.stem],
    block: def.block,
    widths: [...def.widths],
    firstStride: def.firstStride,
  };
}

/** Reads the definition fields back from a spec (e.g. one loaded from a checkpoint), validating them. */
export function definitionOf(spec: ArchSpec): ArchDefinition {
  const fallback: ArchDefinition | undefined = isArchName(spec.name) ? ARCHITECTURES[spec.name] : undefined;
  const pick = <K extends keyof ArchDefinition>(key: K): ArchDefinition[K] => {
    const value = spec[key] ?? fallback?.[key];
    if (value === undefined) {
      throw new Error(`architecture spec "${spec.name}" lacks "${key}" and is not a known architecture: ` +
        `rebuild it with archSpec(name, { nOut }) (known: ${ARCH_NAMES.join(", ")})`);
    }
    return value as ArchDefinition[K];
  };
  const def: ArchDefinition = {
    stem: pick("stem"),
    block: pick("block"),
    widths: pick("widths"),
    layers: spec.layers ?? pick("layers"),
    expansion: spec.expansion ?? pick("expansion"),
    firstStride: pick("firstStride"),
  };
  const positiveInts = (xs: unknown) => Array.isArray(xs) && xs.every((v) => Number.isInteger(v) && v > 0);
  if (!positiveInts(def.stem) || !positiveInts(def.widths) || def.widths.length === 0 || !positiveInts(def.layers)) {
    throw new Error(`architecture spec "${spec.name}": stem, widths and layers must be lists of positive integers ` +
      `(got stem=${JSON.stringify(def.stem)}, widths=${JSON.stringify(def.widths)}, layers=${JSON.stringify(def.layers)})`);
  }
  if (def.block !== "conv" && def.block !== "res") {
    throw new Error(`architecture spec "${spec.name}": block is ${JSON.stringify(def.block)}; use "conv" or "res"`);
  }
  if (!Number.isInteger(def.expansion) || def.expansion < 1 || (def.block === "conv" && def.expansion !== 1)) {
    throw new Error(`architecture spec "${spec.name}": expansion ${def.expansion} is invalid (1 for basic blocks, 4 for bottlenecks; conv blocks take 1)`);
  }
  return def;
}

/**
 * Input pixels per cell of the last feature map: 2 for the stem's first convLayer and 2 for its MaxPool
 * (when there is a stem), `firstStride` for the first stage, 2 for every later stage. 32 for every model
 * of the table. The export writes it into the manifest, and the worker rounds tensor sides to it.
 */
export function totalStride(def: ArchDefinition): number {
  const stem = def.stem.length > 0 ? 4 : 1;
  return stem * def.firstStride * 2 ** Math.max(0, def.widths.length - 1);
}
