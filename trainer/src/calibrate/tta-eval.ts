/**
 * TTA accuracy of an exported model file as the worker runs `?tta=1`: val images through shared's
 * servingConfig with `views`, one onnxruntime run per view, softmax probabilities averaged. Reports the
 * accuracy of the centre view alone and of each view set, on the same images.
 */
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { servingConfig, TTA_VIEWS, validateManifest, type TtaView } from "@resnet-edge/shared";
import { initCodecs } from "@resnet-edge/shared/node";
import { DataError } from "../data/errors.ts";
import { scanImageFolder } from "../data/imagenette.ts";
import { aspectSize, servedFile, ServedViews } from "./size-curve.ts";

/** Softmax in float64. */
export function softmax(logits: ArrayLike<number>): Float64Array {
  let max = -Infinity;
  for (let i = 0; i < logits.length; i++) max = Math.max(max, logits[i]!);
  const out = new Float64Array(logits.length);
  let sum = 0;
  for (let i = 0; i < logits.length; i++) sum += out[i] = Math.exp(logits[i]! - max);
  for (let i = 0; i < out.length; i++) out[i]! /= sum;
  return out;
}

function argmax(a: ArrayLike<number>): number {
  let best = 0;
  for (let i = 1; i < a.length; i++) if (a[i]! > a[best]!) best = i;
  return best;
}

export interface TtaEvalResult {
  images: number;
  /** Accuracy per view set, e.g. { center: 0.75, "center+flip": 0.76, "center+flip+shift-tl+shift-br": 0.77 }. */
  accuracy: Record<string, number>;
}

export async function ttaEval(opts: { model: string; data: string; perClass: number; aspect?: number; shortSide?: number; viewSets?: TtaView[][]; threads?: number }): Promise<TtaEvalResult> {
  const manifest = validateManifest(JSON.parse(await readFile(join(opts.model, "manifest.json"), "utf8")));
  const sets = opts.viewSets ?? [["center"], ["center", "flip"], [...TTA_VIEWS]];
  await initCodecs();
  const folder = await scanImageFolder(opts.data, { limit: 0, validLimit: opts.perClass });
  const wnids = manifest.classes.map((c) => c.wnid);
  const labelOf = folder.classes.map((w) => wnids.indexOf(w));
  if (labelOf.some((l) => l < 0)) throw new DataError(`dataset ${opts.data} has classes the model lacks`);
  const ort = await import("onnxruntime-node");
  const session = await ort.InferenceSession.create(join(opts.model, servedFile(manifest)), { intraOpNumThreads: opts.threads ?? 1 });
  const correct = sets.map(() => 0);
  try {
    for (const item of folder.valid) {
      // decoded as the worker decodes such a photo (shrunk on load when the served size allows)
      const served = await ServedViews.of(new Uint8Array(await readFile(item.path)), manifest.preprocess.maxPixels);
      const aspect = opts.aspect ?? served.width / served.height;
      // size=default as the worker serves this photo: its aspect's calibrated size when the manifest has them
      const cfg = servingConfig(manifest, opts.shortSide ? { shortSide: opts.shortSide } : { image: aspectSize(served.width, served.height, aspect) });
      const x = await served.tensor(aspect, cfg, { views: TTA_VIEWS });
      const probs = new Map<TtaView, Float64Array>();
      for (const v of x.views!) {
        const out = await session.run({ input: new ort.Tensor("float32", v.data, v.dims) });
        probs.set(v.view, softmax(out[session.outputNames[0]!]!.data as Float32Array));
      }
      sets.forEach((set, k) => {
        const mean = new Float64Array(wnids.length);
        for (const v of set) probs.get(v)!.forEach((p, i) => (mean[i]! += p / set.length));
        if (argmax(mean) === labelOf[item.label]) correct[k]!++;
      });
    }
  } finally {
    await session.release();
  }
  const images = folder.valid.length;
  return { images, accuracy: Object.fromEntries(sets.map((s, k) => [s.join("+"), correct[k]! / Math.max(1, images)])) };
}
