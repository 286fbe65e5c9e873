/**
 * Accuracy as served against input size (issue 11): the exported model file the worker serves (int8 when
 * the manifest has it), val images through shared's `servingConfig` + `preprocessImage` (the worker's exact
 * recipe), at a grid of short sides and aspect ratios. An aspect view is the largest centre crop of the
 * decoded image with that width/height ratio, standing in for a non-square photo (Imagenette's val images
 * are square), then served as the worker would serve that photo.
 */
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import {
  centerCrop,
  decodeUpright,
  preprocessImage,
  resize,
  servingConfig,
  servingEdge,
  shrinkDenominator,
  targetSize,
  type ModelManifest,
  type PreprocessConfig,
  type RawImage,
  type ShrinkDenominator,
  type SizeCalibration,
} from "@resnet-edge/shared";
import { initCodecs } from "@resnet-edge/shared/node";
import { DataError } from "../data/errors.ts";
import { scanImageFolder } from "../data/imagenette.ts";

export const DEFAULT_SHORT_SIDES = [56, 64, 72, 80, 88, 96, 112, 128, 160];
export const DEFAULT_ASPECTS = ["9:16", "3:4", "1:1", "4:3", "16:9"];

/** "16:9" or "1.5" -> width / height. */
export function parseAspect(s: string): number {
  const m = /^(\d+(?:\.\d+)?)(?::(\d+(?:\.\d+)?))?$/.exec(s.trim());
  const v = m ? Number(m[1]) / (m[2] === undefined ? 1 : Number(m[2])) : NaN;
  if (!(v > 0) || !Number.isFinite(v) || v > 16 || v < 1 / 16) {
    throw new DataError(`aspect ${JSON.stringify(s)} is not a ratio like 16:9, 3:4 or 1.5 (between 1:16 and 16:1)`);
  }
  return v;
}

/** The size of the largest centre crop of a width x height image whose width/height is `aspect`. */
export function aspectSize(width: number, height: number, aspect: number): { width: number; height: number } {
  if (Math.abs(width / height - aspect) < 1e-9) return { width, height };
  const w = Math.min(width, Math.max(1, Math.round(height * aspect)));
  return { width: w, height: Math.min(height, Math.max(1, Math.round(w / aspect))) };
}

/** The largest centre crop of `image` whose width/height is `aspect`. */
export function aspectView(image: RawImage, aspect: number): RawImage {
  const { width, height } = aspectSize(image.width, image.height, aspect);
  return width === image.width && height === image.height ? image : centerCrop(image, width, height);
}

/**
 * One val image's served tensors, computed the worker's way: the worker receives a photo of the aspect view's
 * size and decodes it shrunk on load (JPEG/WebP at 1/2, 1/4 or 1/8 when the served size allows,
 * shrinkDenominator) before the resize. Here the file is decoded once per reduction (cached), the view is the
 * same centre crop of that decode, and the resize target comes from the view's full size, as in the worker.
 */
export class ServedViews {
  private readonly decodes = new Map<ShrinkDenominator, RawImage>();
  private constructor(
    private readonly bytes: Uint8Array,
    private readonly maxPixels: number,
    /** Full size as displayed (after EXIF orientation). */
    readonly width: number,
    readonly height: number,
  ) {}

  static async of(bytes: Uint8Array, maxPixels: number): Promise<ServedViews> {
    const full = await decodeUpright(bytes, { maxPixels }, "rgb", 1);
    const v = new ServedViews(bytes, maxPixels, full.fullWidth, full.fullHeight);
    v.decodes.set(1, full.image);
    return v;
  }

  /** The reduction the worker decodes this aspect view at for `cfg`, and the view's full size. */
  plan(aspect: number, cfg: PreprocessConfig): { scale: ShrinkDenominator; full: { width: number; height: number } } {
    const full = aspectSize(this.width, this.height, aspect);
    return { scale: shrinkDenominator(full.width, full.height, cfg.resize), full };
  }

  async tensor(aspect: number, cfg: PreprocessConfig, opts: Parameters<typeof preprocessImage>[2] = {}): Promise<ReturnType<typeof preprocessImage>> {
    const { scale, full } = this.plan(aspect, cfg);
    let image = this.decodes.get(scale);
    if (!image) {
      image = (await decodeUpright(this.bytes, { maxPixels: this.maxPixels }, "rgb", scale)).image;
      this.decodes.set(scale, image);
    }
    return preprocessImage(aspectView(image, aspect), cfg, opts, full);
  }

  /**
   * A photo of the aspect view whose short side is `shortSide` (the full-resolution view, resized with shared's
   * antialiased resize; no JPEG re-encode), served with `cfgFor(its size)` as the worker serves a photo of that size.
   */
  photoTensor(
    aspect: number,
    shortSide: number,
    cfgFor: (photo: { width: number; height: number }) => PreprocessConfig,
    opts: Parameters<typeof preprocessImage>[2] = {},
  ): ReturnType<typeof preprocessImage> {
    const view = aspectView(this.decodes.get(1)!, aspect);
    const k = shortSide / Math.min(view.width, view.height);
    const photo = resize(view, Math.max(1, Math.round(view.width * k)), Math.max(1, Math.round(view.height * k)));
    const size = { width: photo.width, height: photo.height };
    return preprocessImage(photo, cfgFor(size), opts, size);
  }
}

/**
 * "served": the image served at short side S by the manifest's recipe (rounded to its stride when it has one;
 * what `size=default` does when the manifest's size is S); "unaligned": the same without rounding (the worker
 * before issue 11); "photo": a photo whose short side is S, served at the manifest's default size (what a
 * client sending photos that small gets from `size=default`).
 */
export type Serving = "served" | "unaligned" | "photo";

export function sweepManifest(manifest: ModelManifest, serving: Serving): Pick<ModelManifest, "preprocess" | "stride" | "inputs"> {
  if (serving !== "unaligned") return manifest;
  const { align: _, sizeByAspect: __, ...resize } = manifest.preprocess.resize;
  return { preprocess: { ...manifest.preprocess, resize, crop: null }, inputs: manifest.inputs };
}

/** The served file: the int8 variant when there is one (what the worker's MODEL_VARIANT=int8 picks), else `model`. */
export function servedFile(manifest: ModelManifest): string {
  return (manifest.variants?.int8 ?? manifest.model).file;
}

/** The size the model was trained at: the last stage of the recorded config, else the served short side. */
export function trainingSizeOf(manifest: ModelManifest): number {
  const cfg = manifest.training?.config as { size?: unknown; stages?: { size?: unknown }[] } | undefined;
  const last = cfg?.stages?.at(-1)?.size ?? cfg?.size;
  if (typeof last === "number" && last > 0) return last;
  return manifest.calibration?.trainingSize ?? servingEdge(manifest.preprocess) ?? 224;
}

export interface SizeCurveOptions {
  /** An export folder (manifest.json + the ONNX files). */
  model: string;
  /** Dataset folder with val/<wnid>/. */
  data: string;
  /** Val images per class. */
  perClass: number;
  shortSides?: number[];
  /** Width/height ratios. */
  aspects?: number[];
  servings?: Serving[];
  threads?: number;
  onProgress?: (done: number, total: number) => void;
}

export interface SizeCurve {
  serving: Serving;
  calibration: SizeCalibration;
}

export interface SizeCurveResult {
  manifest: ModelManifest;
  file: string;
  images: number;
  curves: SizeCurve[];
}

function argmax(a: Float32Array): number {
  let best = 0;
  for (let i = 1; i < a.length; i++) if (a[i]! > a[best]!) best = i;
  return best;
}

/** Best short side by mean top-1 over the aspects (the smaller side on a tie: cheaper to serve). */
export function bestShortSide(points: SizeCalibration["points"]): number {
  let best = points[0]!;
  for (const p of points) if (p.meanTop1 > best.meanTop1 || (p.meanTop1 === best.meanTop1 && p.shortSide < best.shortSide)) best = p;
  return best.shortSide;
}

export async function sizeCurve(opts: SizeCurveOptions): Promise<SizeCurveResult> {
  const { validateManifest } = await import("@resnet-edge/shared");
  const text = await readFile(join(opts.model, "manifest.json"), "utf8").catch(() => {
    throw new DataError(`no manifest.json in ${opts.model}: pass --model <folder written by trainer export>`);
  });
  const manifest = validateManifest(JSON.parse(text));
  const shortSides = opts.shortSides ?? DEFAULT_SHORT_SIDES;
  const aspects = opts.aspects ?? DEFAULT_ASPECTS.map(parseAspect);
  const servings = opts.servings ?? ["served"];
  const file = servedFile(manifest);
  await initCodecs();
  const folder = await scanImageFolder(opts.data, { limit: 0, validLimit: opts.perClass });
  const wnids = manifest.classes.map((c) => c.wnid);
  const labelOf = folder.classes.map((w) => wnids.indexOf(w));
  if (labelOf.some((l) => l < 0)) throw new DataError(`dataset ${opts.data} has classes the model lacks (${folder.classes.filter((_, i) => labelOf[i]! < 0).join(", ")})`);
  const ort = await import("onnxruntime-node");
  const session = await ort.InferenceSession.create(join(opts.model, file), { intraOpNumThreads: opts.threads ?? 1 });
  const correct = servings.map(() => shortSides.map(() => aspects.map(() => 0)));
  const configs = servings.map((s) => shortSides.map((shortSide) => servingConfig(sweepManifest(manifest, s), s === "photo" ? {} : { shortSide })));
  try {
    for (let n = 0; n < folder.valid.length; n++) {
      const item = folder.valid[n]!;
      const views = await ServedViews.of(new Uint8Array(await readFile(item.path)), manifest.preprocess.maxPixels);
      const label = labelOf[item.label]!;
      for (let a = 0; a < aspects.length; a++) {
        // The tensor is a function of the view, its decode reduction and its target size only, so a size
        // reached twice (72 and 64 both round to 64; unaligned 64 is aligned 64 on a square) is computed and run once.
        const seen = new Map<string, number>();
        for (let v = 0; v < servings.length; v++) {
          for (let s = 0; s < shortSides.length; s++) {
            const cfg = configs[v]![s]!;
            if (servings[v] === "photo") {
              // size=default for a photo of this size: its aspect's calibrated size when the manifest has them
              const x = views.photoTensor(aspects[a]!, shortSides[s]!, (image) => servingConfig(manifest, { image }), { layout: "NCHW" });
              const out = await session.run({ input: new ort.Tensor("float32", x.data, x.dims) });
              if (argmax(out[session.outputNames[0]!]!.data as Float32Array) === label) correct[v]![s]![a]!++;
              continue;
            }
            const { scale, full } = views.plan(aspects[a]!, cfg);
            const t = targetSize(full.width, full.height, cfg.resize);
            const key = `${scale}:${t.width}x${t.height}:${cfg.crop?.join("x") ?? ""}`;
            let top = seen.get(key);
            if (top === undefined) {
              const x = await views.tensor(aspects[a]!, cfg, { layout: "NCHW" });
              const out = await session.run({ input: new ort.Tensor("float32", x.data, x.dims) });
              top = argmax(out[session.outputNames[0]!]!.data as Float32Array);
              seen.set(key, top);
            }
            if (top === label) correct[v]![s]![a]!++;
          }
        }
      }
      opts.onProgress?.(n + 1, folder.valid.length);
    }
  } finally {
    await session.release();
  }
  const images = folder.valid.length;
  const trainingSize = trainingSizeOf(manifest);
  const curves = servings.map((serving, v): SizeCurve => {
    const points = shortSides.map((shortSide, s) => {
      const top1 = correct[v]![s]!.map((c) => c / Math.max(1, images));
      return { shortSide, top1, meanTop1: top1.reduce((x, y) => x + y, 0) / top1.length };
    });
    return { serving, calibration: { images, aspects, points, best: bestShortSide(points), trainingSize, createdAt: new Date().toISOString() } };
  });
  return { manifest, file, images, curves };
}

/** "16:9" for the default aspects, else the ratio to two decimals. */
export const aspectLabel = (a: number): string => {
  for (const s of DEFAULT_ASPECTS) if (Math.abs(parseAspect(s) - a) < 1e-6) return s;
  return a.toFixed(2);
};

/** The curve as a table: one row per short side, one column per aspect, then the mean and the worst. */
export function formatCurve(c: SizeCalibration, title: string): string {
  const head = ["short", ...c.aspects.map(aspectLabel), "mean", "worst"];
  const lines = [title, head.map((h) => h.padStart(7)).join("")];
  for (const p of c.points) {
    const cells = [String(p.shortSide) + (p.shortSide === c.best ? "*" : p.shortSide === c.trainingSize ? "t" : ""), ...p.top1.map((v) => (v * 100).toFixed(1)), (p.meanTop1 * 100).toFixed(1), (Math.min(...p.top1) * 100).toFixed(1)];
    lines.push(cells.map((x) => x.padStart(7)).join(""));
  }
  lines.push(`top-1 % over ${c.images} val images; * best mean (written as the serving size), t the training size`);
  return lines.join("\n");
}
