/**
 * `trainer import`: an ONNX image classifier this trainer did not make (torch.onnx.export of a
 * torchvision ResNet, ...) -> the same artifact `trainer export` writes (model.onnx + manifest.json,
 * optionally model.int8.onnx), so `trainer publish`, hot swap and /v1/models work unchanged.
 *
 * Before writing anything it reads the graph (onnx-graph.ts), then runs it once on a probe image through
 * the serving preprocessing with onnxruntime-node AND onnxruntime-web (the worker's wasm runtime), and
 * refuses, saying what is wrong: an output that is not one score per class, NaN or infinite scores, a
 * graph onnxruntime-web cannot load (e.g. an opset it does not implement), or the two runtimes disagreeing.
 */
import { mkdir, readFile, readdir, writeFile, access } from "node:fs/promises";
import { constants } from "node:fs";
import { basename, extname, join, resolve } from "node:path";
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { IMAGENET_MEAN, IMAGENET_STD, preprocess, preprocessImage, validatePreprocessConfig, type ClassLabel, type ModelManifest, type PreprocessConfig } from "@resnet-edge/shared";
import { initCodecs } from "@resnet-edge/shared/node";
import { DataError } from "../data/errors.ts";
import { ensureWritable } from "../run-folder.ts";
import { makeManifest, sha256Hex } from "../export/manifest.ts";
import { readClasses } from "./classes.ts";
import { readGraph, type GraphSummary } from "./onnx-graph.ts";
import { quantizeForeign, type ForeignInt8Result } from "./quantize-foreign.ts";

export interface ImportOptions {
  /** The .onnx file. */
  onnx: string;
  /** classes.txt or classes.json, in output order. */
  classes: string;
  /** Output folder (models/<name>). */
  out: string;
  /** Manifest name (default: the output folder's name). */
  name?: string;
  /** Version label (default: UTC timestamp, e.g. 20261202t0730). */
  version?: string;
  /** "imagenet" (default) or a PreprocessConfig as JSON text or a path to a .json file. */
  preprocess?: string;
  /** Also write model.int8.onnx (static QDQ), calibrated on `calibration`. */
  int8?: boolean;
  /** A folder of images (searched recursively) for int8 calibration and the agreement check. */
  calibration?: string;
  /** Images used for calibration; the rest (up to agreementImages) measure int8/fp32 agreement. */
  calibrationImages?: number;
  agreementImages?: number;
  log?: (line: string) => void;
}

export interface ImportResult {
  manifest: ModelManifest;
  files: string[];
  graph: GraphSummary;
  /** Max abs difference of onnxruntime-web's logits vs onnxruntime-node's on the probe tensor. */
  webVsNodeMaxDiff: number;
  int8?: ForeignInt8Result;
}

/** onnxruntime-web (wasm) and onnxruntime-node must agree this closely on the probe (fp32). */
export const RUNTIME_TOLERANCE = 1e-4;

function defaultVersion(date = new Date()): string {
  return date.toISOString().slice(0, 16).replace(/[-:]/g, "").toLowerCase();
}

/**
 * The serving preprocessing. `imagenet`: ImageNet mean/std; a fully convolutional graph gets the
 * shortest edge at 224 and no crop (as our own models), a fixed H x W graph gets torchvision's eval
 * recipe: shortest edge to H * 256/224, then a centre crop to H x W (the worker keeps the crop).
 */
export function importPreprocess(spec: string | undefined, fixedSize: [number, number] | null): PreprocessConfig {
  let config: PreprocessConfig;
  if (spec === undefined || spec === "imagenet") {
    const base = { mean: IMAGENET_MEAN, std: IMAGENET_STD, maxPixels: 60_000_000, background: [255, 255, 255] as [number, number, number] };
    config = fixedSize
      ? { ...base, resize: { mode: "shortest-edge", size: Math.round((Math.min(...fixedSize) * 256) / 224) }, crop: fixedSize }
      : { ...base, resize: { mode: "shortest-edge", size: 224 }, crop: null };
  } else {
    let raw: unknown;
    try {
      raw = JSON.parse(spec.trim().startsWith("{") ? spec : readFileSync(spec, "utf8"));
    } catch (e) {
      throw new DataError(`--preprocess ${JSON.stringify(spec.slice(0, 60))} is neither "imagenet", JSON, nor a readable JSON file (${(e as Error).message})`);
    }
    try {
      config = validatePreprocessConfig(raw, "--preprocess");
    } catch (e) {
      throw new DataError((e as Error).message);
    }
  }
  if (fixedSize) {
    const [h, w] = fixedSize;
    const exact = config.resize.mode === "exact" && Array.isArray(config.resize.size) && config.resize.size[0] === h && config.resize.size[1] === w && config.crop === null;
    const cropped = config.crop !== null && config.crop[0] === h && config.crop[1] === w;
    if (!exact && !cropped) {
      throw new DataError(`the graph takes ${h}x${w} only, but --preprocess makes other sizes: give it "crop": [${h}, ${w}] (or resize {"mode": "exact", "size": [${h}, ${w}]})`);
    }
  }
  return config;
}

/** A probe image: a smooth RGB pattern at 320x240, through the serving preprocessing. */
function probeTensor(config: PreprocessConfig): { data: Float32Array; dims: number[] } {
  const width = 320;
  const height = 240;
  const px = new Uint8Array(width * height * 3);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const i = (y * width + x) * 3;
      px[i] = (255 * x) / (width - 1);
      px[i + 1] = (255 * y) / (height - 1);
      px[i + 2] = 128 + 100 * Math.sin((x + 2 * y) / 9);
    }
  }
  const r = preprocessImage({ data: px, width, height, channels: 3 }, config);
  return { data: r.data, dims: [...r.dims] };
}

/** onnxruntime-node's output for one tensor (the graph's own input/output names). */
export async function nodeRun(onnx: Uint8Array, data: Float32Array, dims: number[]): Promise<{ data: Float32Array; dims: number[] }> {
  const ort = await import("onnxruntime-node");
  const session = await ort.InferenceSession.create(onnx, { intraOpNumThreads: 1 });
  try {
    const out = await session.run({ [session.inputNames[0]!]: new ort.Tensor("float32", data, dims) });
    const t = out[session.outputNames[0]!]!;
    return { data: new Float32Array(t.data as Float32Array), dims: t.dims.map(Number) };
  } finally {
    await session.release();
  }
}

/**
 * The worker's runtime: onnxruntime-web's wasm through edge/src/inference/ort.ts (the file the worker
 * uses), in this process. Refuses what it cannot load, with ORT's reason.
 */
async function webRun(onnx: Uint8Array, data: Float32Array, dims: number[], graph: GraphSummary): Promise<Float32Array> {
  const { initOrt, createSession } = await import("../../../edge/src/inference/ort.ts");
  const require = createRequire(import.meta.url);
  const wasm = readFileSync(require.resolve("onnxruntime-web/ort-wasm-simd-threaded.wasm"));
  await initOrt(await WebAssembly.compile(wasm));
  let session;
  try {
    session = await createSession(onnx);
  } catch (e) {
    throw new DataError(
      `onnxruntime-web (the worker's runtime) cannot load this graph (opset ${graph.opset}; ops ${graph.opTypes.join(", ")}): ${(e as Error).message.split("\n")[0]}; re-export it with opset_version=17 and standard ONNX ops`,
    );
  }
  try {
    return (await session.run(data, dims)).data;
  } finally {
    await session.release();
  }
}

const IMAGE_EXT = /\.(jpe?g|png)$/i;

/** Image files under `dir` (recursively), sorted, so a run is deterministic. */
export async function listImages(dir: string): Promise<string[]> {
  let entries;
  try {
    entries = await readdir(dir, { recursive: true, withFileTypes: true });
  } catch (e) {
    throw new DataError(`cannot read the calibration folder ${dir} (${(e as NodeJS.ErrnoException).code ?? (e as Error).message}): pass --calibration <folder of JPEG/PNG images>`);
  }
  return entries
    .filter((e) => e.isFile() && IMAGE_EXT.test(e.name))
    .map((e) => join(e.parentPath, e.name))
    .sort();
}

/** Images -> tensors with the serving preprocessing (shared's `preprocess`, as the worker). */
export async function imageTensors(paths: string[], config: PreprocessConfig): Promise<{ data: Float32Array; dims: number[] }[]> {
  await initCodecs();
  const out = [];
  for (const p of paths) {
    const r = await preprocess(new Uint8Array(await readFile(p)), config);
    out.push({ data: r.data, dims: [...r.dims] });
  }
  return out;
}

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return m;
}

export async function importModel(opts: ImportOptions): Promise<ImportResult> {
  const log = opts.log ?? (() => {});
  let onnx: Uint8Array;
  try {
    onnx = new Uint8Array(await readFile(opts.onnx));
  } catch (e) {
    throw new DataError(`cannot read ${opts.onnx} (${(e as NodeJS.ErrnoException).code ?? (e as Error).message}): pass --onnx <model.onnx>`);
  }
  const graph = readGraph(onnx, opts.onnx);
  log(
    `graph: input ${graph.input.name} [${graph.input.dims}], output ${graph.output.name} [${graph.output.dims}], opset ${graph.opset}, ` +
      `${graph.fixedSize ? `fixed ${graph.fixedSize.join("x")}` : "fully convolutional"}, stride ${graph.stride ?? "?"}`,
  );
  const classes: ClassLabel[] = await readClasses(opts.classes);
  const outClasses = graph.output.dims[graph.output.dims.length - 1];
  if (graph.output.dims.length !== 2 || (typeof outClasses === "number" && outClasses !== classes.length)) {
    throw new DataError(
      `output ${graph.output.name} has shape [${graph.output.dims}], but ${opts.classes} lists ${classes.length} classes: import takes a graph whose output is [N, ${classes.length}], one score per class`,
    );
  }
  const config = importPreprocess(opts.preprocess, graph.fixedSize);
  if (opts.int8 && !opts.calibration) throw new DataError("--int8 needs calibration images: pass --calibration <folder of JPEG/PNG images> (a few hundred of the kind the model will see)");

  // Run once on a probe image with both runtimes before writing anything.
  const probe = probeTensor(config);
  const web = await webRun(onnx, probe.data, probe.dims, graph);
  let ref: { data: Float32Array; dims: number[] };
  try {
    ref = await nodeRun(onnx, probe.data, probe.dims);
  } catch (e) {
    throw new DataError(`onnxruntime-node cannot run the graph on a probe image: ${(e as Error).message.split("\n")[0]}`);
  }
  if (ref.data.length !== classes.length) {
    throw new DataError(`on a ${probe.dims[2]}x${probe.dims[3]} probe image the graph outputs [${ref.dims}] (${ref.data.length} values), not one score per class (${classes.length}): check --classes, or export only the logits`);
  }
  const bad = ref.data.findIndex((v) => !Number.isFinite(v));
  if (bad !== -1) throw new DataError(`on a probe image the graph's output ${bad} is ${ref.data[bad]}: the weights or the graph are broken (NaN/Inf); re-export it`);
  const webVsNodeMaxDiff = maxAbsDiff(web, ref.data);
  if (!(webVsNodeMaxDiff < RUNTIME_TOLERANCE)) {
    throw new DataError(`onnxruntime-web and onnxruntime-node disagree on a probe image by ${webVsNodeMaxDiff} (limit ${RUNTIME_TOLERANCE}): the worker would not serve what this graph computes`);
  }
  log(`probe: ${classes.length} finite scores; onnxruntime-web matches onnxruntime-node (max abs diff ${webVsNodeMaxDiff.toExponential(2)})`);

  let int8: ForeignInt8Result | undefined;
  if (opts.int8) {
    const paths = await listImages(opts.calibration!);
    const nCal = opts.calibrationImages ?? 64;
    if (paths.length < 2) throw new DataError(`the calibration folder ${opts.calibration} has ${paths.length} JPEG/PNG images; give it at least a few dozen`);
    // Evenly spaced picks, so a folder sorted by class gives every class to both sets.
    const spaced = (from: string[], k: number) => (k >= from.length ? from : Array.from({ length: k }, (_, i) => from[Math.floor((i * from.length) / k)]!));
    const calPaths = spaced(paths, Math.min(nCal, paths.length - 1));
    const chosen = new Set(calPaths);
    const agreePaths = spaced(paths.filter((p) => !chosen.has(p)), opts.agreementImages ?? 200);
    log(`int8: calibrating on ${calPaths.length} images, measuring agreement on ${agreePaths.length}`);
    int8 = await quantizeForeign(onnx, await imageTensors(calPaths, config), await imageTensors(agreePaths, config));
    const a = int8.agreement;
    log(
      `int8: ${(int8.onnx.byteLength / 1e6).toFixed(1)} MB (fp32 ${(onnx.byteLength / 1e6).toFixed(1)} MB); on ${a.images} images top-1 agreement with fp32 ${(a.top1Agreement * 100).toFixed(1)}% ` +
        `(fp32 picked ${a.distinctFp32Top1} different classes), mean relative logit error ${a.meanRelativeError.toFixed(4)}`,
    );
  }

  const out = resolve(opts.out);
  await ensureWritable(out);
  const name = opts.name ?? basename(out);
  const manifest = makeManifest({
    name,
    version: opts.version ?? defaultVersion(),
    architecture: { name: `imported:${basename(opts.onnx, extname(opts.onnx))}`, source: "trainer import", opset: graph.opset, ...(graph.stride ? { stride: graph.stride } : {}), ops: graph.opTypes },
    onnx,
    classes,
    inputs: [{ name: graph.input.name, dims: graph.input.dims, dtype: "float32" }],
    outputs: [{ name: graph.output.name, dims: graph.output.dims, dtype: "float32" }],
    preprocess: config,
    // A fully convolutional graph is served with both tensor sides rounded to its stride, as our exports are.
    ...(graph.stride && !graph.fixedSize ? { stride: graph.stride } : {}),
    ...(int8 ? { variants: { int8: { file: "model.int8.onnx", onnx: int8.onnx } } } : {}),
    training: {
      imported: {
        file: basename(opts.onnx),
        sha256: sha256Hex(onnx),
        producer: graph.producer,
        probe: { tensor: probe.dims, webVsNodeMaxDiff },
        ...(int8 ? { int8: { calibrationImages: int8.calibrationImages, agreementImages: int8.agreement.images, floatNodes: int8.floatNodes, batchNormFolded: int8.batchNormFolded } } : {}),
      },
    },
    ...(int8
      ? { metrics: { int8Top1Agreement: int8.agreement.top1Agreement, sliceImages: int8.agreement.images, int8DistinctFp32Top1: int8.agreement.distinctFp32Top1, int8MeanRelativeLogitError: int8.agreement.meanRelativeError } }
      : {}),
  });
  const files = [join(out, "model.onnx"), join(out, "manifest.json")];
  await writeFile(files[0]!, onnx);
  if (int8) {
    files.splice(1, 0, join(out, "model.int8.onnx"));
    await writeFile(files[1]!, int8.onnx);
  }
  await writeFile(join(out, "manifest.json"), JSON.stringify(manifest, null, 2) + "\n");
  return { manifest, files, graph, webVsNodeMaxDiff, ...(int8 ? { int8 } : {}) };
}
