/**
 * `trainer calibrate --model <export folder>` (issue 11 item 2): accuracy as served at a grid of short
 * sides and aspect ratios; prints the table and an ASCII chart, writes a PNG, and (unless dryRun) writes
 * the best short side into the manifest's `preprocess.resize.size` (what the worker serves at
 * size=default) with the whole curve as `calibration`. FixRes: a model trained on random crops is often
 * most accurate somewhat above its training size. The best size is written only when it is at least as
 * accurate (mean over the aspects) as the training size; otherwise the curve is kept and the size is not.
 */
import { readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { servingEdge, validateManifest, type ModelManifest, type SizeCalibration } from "@resnet-edge/shared";
import { DataError } from "../data/errors.ts";
import { asciiSizeChart, sizePlotPng } from "./size-plot.ts";
import { formatCurve, sizeCurve, type SizeCurveOptions } from "./size-curve.ts";

export interface CalibrateOptions extends Omit<SizeCurveOptions, "servings" | "data"> {
  /** Dataset with val/<wnid>/; default: the data folder recorded in the manifest's training config. */
  data?: string;
  /** PNG path; default <model>/size-curve.png. */
  plot?: string;
  /** Print only; leave manifest.json as it is. */
  dryRun?: boolean;
  io?: { log: (l: string) => void; write: (l: string) => void };
}

export interface CalibrateResult {
  calibration: SizeCalibration;
  /** The short side served before and after. */
  before: number | null;
  after: number | null;
  written: boolean;
  plot: string;
}

/** The size to serve: the best mean, if it is at least as good as the training size's (when that was measured). */
export function chooseServingSize(c: SizeCalibration): number {
  const best = c.points.find((p) => p.shortSide === c.best)!;
  const trained = c.points.find((p) => p.shortSide === c.trainingSize);
  return !trained || best.meanTop1 >= trained.meanTop1 ? c.best : c.trainingSize;
}

export function withCalibration(manifest: ModelManifest, c: SizeCalibration, size: number): ModelManifest {
  const resize = manifest.preprocess.resize.mode === "shortest-edge" ? { ...manifest.preprocess.resize, size } : manifest.preprocess.resize;
  return validateManifest({ ...manifest, preprocess: { ...manifest.preprocess, resize }, calibration: { ...c, best: size } });
}

export async function runCalibrate(opts: CalibrateOptions): Promise<CalibrateResult> {
  const io = opts.io ?? { log: (l: string) => process.stderr.write(`${l}\n`), write: (l: string) => process.stdout.write(`${l}\n`) };
  const manifestPath = join(opts.model, "manifest.json");
  const recorded = (JSON.parse(await readFile(manifestPath, "utf8").catch(() => "{}")) as { training?: { config?: { data?: unknown } } }).training?.config?.data;
  const data = opts.data ?? (typeof recorded === "string" ? recorded : undefined);
  if (!data) throw new DataError("trainer calibrate needs --data <folder with val/<wnid>/> (the manifest records no dataset)");
  const t0 = Date.now();
  const r = await sizeCurve({
    ...opts,
    data,
    servings: ["served"],
    onProgress: (done, total) => {
      if (done === total || done % Math.max(1, Math.floor(total / 10)) === 0) io.log(`calibrate: ${done}/${total} images (${((Date.now() - t0) / 1000).toFixed(0)} s)`);
    },
  });
  const c = r.curves[0]!.calibration;
  if (r.manifest.preprocess.resize.mode !== "shortest-edge") {
    throw new DataError(`${manifestPath} serves with resize mode "${r.manifest.preprocess.resize.mode}": calibrate sweeps the shortest edge of shortest-edge models only`);
  }
  const size = chooseServingSize(c);
  const calibration = { ...c, best: size };
  io.write(formatCurve(calibration, `${r.manifest.name} ${r.manifest.version} (${r.file}) as served, stride ${r.manifest.stride ?? "none"}`));
  io.write("");
  io.write(asciiSizeChart(calibration));
  const plot = opts.plot ?? join(opts.model, "size-curve.png");
  await writeFile(plot, await sizePlotPng(calibration));
  const before = servingEdge(r.manifest.preprocess);
  if (size !== c.best) io.write(`best mean at ${c.best} px is below the training size ${c.trainingSize} px's: serving stays at ${size} px`);
  let written = false;
  if (!opts.dryRun) {
    await writeFile(manifestPath, `${JSON.stringify(withCalibration(r.manifest, c, size), null, 2)}\n`);
    written = true;
  }
  io.write(`serving size ${before} -> ${size} px${written ? ` (written to ${manifestPath}, with the curve)` : " (dry run: manifest unchanged)"}; plot: ${plot}`);
  return { calibration, before, after: size, written, plot };
}
