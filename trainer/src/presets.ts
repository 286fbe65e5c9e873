import type { TrainConfig } from "./config.ts";

/**
 * The book's chapter-14 experiments by name (fastai book, "ResNets"): each is `get_data(url, presize,
 * resize)` + `fit_one_cycle(epochs, 3e-3)` with plain cross-entropy, bs 128 (the book's dataloaders).
 * Flags still override any of these.
 */
export interface Preset {
  summary: string;
  config: Partial<TrainConfig>;
}

const chapter14 = { size: 128, presize: 160, epochs: 5, lr: 3e-3, bs: 128 } as const;

export const PRESETS = {
  fcn: { summary: "plain fully-convolutional net: 5 stride-2 conv blocks, average pool, linear", config: { arch: "fcn", ...chapter14 } },
  resblock: { summary: "the same net with each conv block replaced by a ResBlock", config: { arch: "resblock", ...chapter14 } },
  resblock2: { summary: "two ResBlocks per stage (stride 2 then 1)", config: { arch: "resblock2", ...chapter14 } },
  resnet18: { summary: "ResNet-18 with the 3-conv stem, [2,2,2,2]", config: { arch: "resnet18", ...chapter14 } },
  resnet50: {
    summary: "ResNet-50 bottleneck [3,4,6,3] on 320px Imagenette at 224",
    config: { arch: "resnet50", size: 224, presize: 320, epochs: 20, lr: 3e-3, bs: 128 },
  },
} satisfies Record<string, Preset>;

export type PresetName = keyof typeof PRESETS;
