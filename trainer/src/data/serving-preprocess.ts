import { DEFAULT_PREPROCESS, type PreprocessConfig } from "@resnet-edge/shared";

/**
 * The preprocessing a model trained at `size` is validated with, exported with (the manifest's
 * `preprocess`) and served with at `size=default`: shortest edge to `size`, aspect kept, both sides rounded
 * to the nearest multiple of `stride` (the net's total stride; none when omitted), no crop, ImageNet
 * normalisation. Validation runs exactly this through shared's `preprocess`, and the worker runs the
 * manifest's copy through the same function, so the epoch table's accuracy is the accuracy as served.
 *
 * No centre crop: a fully convolutional net takes any aspect, so the worker shows it the whole image; a
 * crop would describe something the worker does not do. (Fixed-size foreign models keep `crop` in their
 * own manifests, and the worker applies it.)
 */
export function servingPreprocess(size: number, stride?: number): PreprocessConfig {
  return { ...DEFAULT_PREPROCESS, resize: { mode: "shortest-edge", size, ...(stride === undefined ? {} : { align: stride }) }, crop: null };
}
