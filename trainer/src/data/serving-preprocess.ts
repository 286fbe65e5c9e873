import { DEFAULT_PREPROCESS, type PreprocessConfig } from "@resnet-edge/shared";

/**
 * The preprocessing a model trained at `size` is validated and served with: shortest edge to `size`,
 * centre crop to size x size, ImageNet normalisation. Validation runs exactly this through shared's
 * `preprocess`; the exporter writes it into the model manifest so the edge does the same.
 */
export function servingPreprocess(size: number): PreprocessConfig {
  return { ...DEFAULT_PREPROCESS, resize: { mode: "shortest-edge", size }, crop: [size, size] };
}
