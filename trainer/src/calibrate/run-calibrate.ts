/**
 * `trainer calibrate --model <export folder>` (issue 11 item 2): accuracy as served at a grid of short
 * sides and aspect ratios; prints the table and an ASCII chart, writes a PNG, and (unless dryRun) writes
 * the best short side into the manifest's `preprocess.resize.size` (what the worker serves at
 * size=default) with the whole curve as `calibration`. FixRes: a model trained on random crops is often
 * most accurate somewhat above its training size. The best size is written only when it is at least as
 * accurate (mean over the aspects) as the training size; otherwise the curve is kept and the size is not.
 * With more than one aspect it also writes `resize.sizeByAspect`, each aspect's own best short side (a square
 * photo and a 16:9 one are most accurate at different sizes), which `size=default` serves at; `oneSize` keeps
 * the single size for every aspect.
 */
import { readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { servingEdge, validateManifest, type AspectSize, type ModelManifest, type SizeCalibration } from "@resnet-edge/shared";
import { DataError } from "../data/errors.ts";
import { asciiSizeChart, sizePlotPng } from "./size-plot.ts";
import { aspectLabel, formatCurve, sizeCurve, type SizeCurveOptions } from "./size-curve.ts";

export interface CalibrateOptions extends Omit<SizeCurveOptions, "servings" | "data"> {
  /** Dataset with val/<wnid>/; default: the data folder recorded in the manifest's training config. */
  data?: string;
  /** PNG path; default <model>/size-curve.png. */
  plot?: string;
  /** Print only; leave manifest.json as it is. */
  dryRun?: boolean;
  /** Serve every aspect at the one best-mean size: no `sizeByAspect` (and any earlier one is removed). */
  oneSize?: boolean;
  io?: { log: (l: string) => void; write: (l: string) => void };
}

export interface CalibrateResult {
  calibration: SizeCalibration;
  /** The short side served before and after. */
  before: number | null;
  after: number | null;
  /** The per-aspect serving sizes written (null with one aspect or `oneSize`). */
  sizeByAspect: AspectSize[] | null;
  written: boolean;
  plot: string;
}

/** The size to serve: the best mean, if it is at least as good as the training size's (when that was measured). */
export function chooseServingSize(c: SizeCalibration): number {
  const best = c.points.find((p) => p.shortSide === c.best)!;
  const trained = c.points.find((p) => p.shortSide === c.trainingSize);
  return !trained || best.meanTop1 >= trained.meanTop1 ? c.best : c.trainingSize;
}

/**
 * Each aspect's own best short side (the smaller on a tie), ascending by aspect; null with fewer than two aspects
 * or on a manifest that does not round to a stride (sizeByAspect needs one).
 */
export function chooseAspectSizes(c: SizeCalibration, manifest: Pick<ModelManifest, "preprocess" | "stride">): AspectSize[] | null {
  if (c.aspects.length < 2 || (manifest.preprocess.resize.align ?? manifest.stride) === undefined) return null;
  return c.aspects
    .map((aspect, j) => {
      let best = c.points[0]!;
      for (const p of c.points) if (p.top1[j]! > best.top1[j]! || (p.top1[j] === best.top1[j] && p.shortSide < best.shortSide)) best = p;
      return { aspect, size: best.shortSide };
    })
    .sort((a, b) => a.aspect - b.aspect);
}

/** Top-1 at each aspect when each is served at its table size, and their mean (from the curve's cells). */
export function aspectServedTop1(c: SizeCalibration, table: readonly AspectSize[]): { top1: number[]; mean: number } {
  const top1 = c.aspects.map((a, j) => c.points.find((p) => p.shortSide === table.find((e) => e.aspect === a)!.size)!.top1[j]!);
  return { top1, mean: top1.reduce((x, y) => x + y, 0) / top1.length };
}

export function withCalibration(manifest: ModelManifest, c: SizeCalibration, size: number, sizeByAspect: AspectSize[] | null = null): ModelManifest {
  const { sizeByAspect: _, ...resize } = manifest.preprocess.resize;
  const align = resize.align ?? manifest.stride;
  const next =
    resize.mode === "shortest-edge" ? { ...resize, size, ...(sizeByAspect && align !== undefined ? { align, sizeByAspect } : {}) } : manifest.preprocess.resize;
  return validateManifest({ ...manifest, preprocess: { ...manifest.preprocess, resize: next }, calibration: { ...c, best: size } });
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
  const byAspect = opts.oneSize ? null : chooseAspectSizes(calibration, r.manifest);
  if (byAspect) {
    const per = aspectServedTop1(calibration, byAspect);
    const one = calibration.points.find((p) => p.shortSide === size)!;
    const pct = (v: number) => `${(v * 100).toFixed(1)}%`;
    io.write(
      `per aspect (size=default serves a photo at its nearest aspect's size): ` +
        byAspect.map((e) => `${aspectLabel(e.aspect)} ${e.size} px (${pct(per.top1[calibration.aspects.indexOf(e.aspect)]!)})`).join(", ") +
        `; mean ${pct(per.mean)} (one size ${size} px: ${pct(one.meanTop1)})`,
    );
  }
  let written = false;
  if (!opts.dryRun) {
    await writeFile(manifestPath, `${JSON.stringify(withCalibration(r.manifest, c, size, byAspect), null, 2)}\n`);
    written = true;
  }
  io.write(
    `serving size ${before} -> ${size} px${byAspect ? " (per aspect as above)" : ""}` +
      `${written ? ` (written to ${manifestPath}, with the curve)` : " (dry run: manifest unchanged)"}; plot: ${plot}`,
  );
  return { calibration, before, after: size, sizeByAspect: byAspect, written, plot };
}
