import { validatePreprocessConfig, type PreprocessConfig } from "./config.ts";
import { ConfigError } from "./errors.ts";
import { MODEL_NAME_RE, MODEL_NAME_RULE } from "./model-layout.ts";
import { CLASS_ID_RE, type ClassLabel } from "./vocab.ts";

/**
 * What a model artifact declares. Written by `trainer export` next to model.onnx, read by the edge
 * worker from R2 (`models/<name>/<version>/manifest.json`). Everything the worker needs to serve the
 * model correctly is here: tensor names and dims, the exact preprocessing, the class list, and the
 * sha256 of the ONNX bytes it must verify before creating a session.
 */
export interface TensorSpec {
  name: string;
  /** Symbolic dims are strings ("N", "H", "W"); fixed dims are numbers. */
  dims: (string | number)[];
  dtype: "float32";
}

export interface ModelFile {
  /** File name relative to the manifest, e.g. "model.onnx" or "model.int8.onnx". */
  file: string;
  sha256: string;
  bytes: number;
}

export interface ModelManifest {
  schemaVersion: 1;
  name: string;
  version: string;
  /** e.g. { name: "resnet18", layers: [2,2,2,2], expansion: 1 } */
  architecture: { name: string } & Record<string, unknown>;
  /** The fp32 ONNX file served by default. */
  model: ModelFile;
  /** Optional extra encodings of the same weights, e.g. { int8: {...} }. */
  variants?: Record<string, ModelFile>;
  inputs: TensorSpec[];
  outputs: TensorSpec[];
  preprocess: PreprocessConfig;
  /**
   * The net's total stride (input pixels per cell of the last feature map; 32 for every ch. 14 model).
   * With it the worker rounds both tensor sides to a multiple of it (`size=default` and `size=native`).
   * Absent (older exports, foreign models): sides are not rounded and `preprocess.crop` is not applied
   * at `size=default` (the behaviour before the field existed).
   */
  stride?: number;
  /** `trainer calibrate`'s accuracy-vs-size curve of the served file; `preprocess.resize.size` is its best size. */
  calibration?: SizeCalibration;
  classes: ClassLabel[];
  /** Free-form training summary: command, epochs, sizes, duration, resolved config. */
  training?: Record<string, unknown>;
  /** Named metrics, e.g. { valAccuracy: 0.78, valLoss: 0.71 }. */
  metrics?: Record<string, number>;
  createdAt?: string;
}

/** Top-1 accuracy of the served model file over a val slice, as served (the worker's preprocessing). */
export interface SizeCalibration {
  /** Val images per point. */
  images: number;
  /** Aspect ratios (width/height) each short side was measured at, e.g. [0.5625, 0.75, 1, 1.333, 1.778]. */
  aspects: number[];
  /** One row per short side: top-1 at each aspect (same order as `aspects`) and their mean. */
  points: { shortSide: number; top1: number[]; meanTop1: number }[];
  /** The short side written into `preprocess.resize.size`, and the one the model was trained at. */
  best: number;
  trainingSize: number;
  createdAt?: string;
}

const SHA256_RE = /^[0-9a-f]{64}$/;
const WNID_RE = CLASS_ID_RE;

function isObject(x: unknown): x is Record<string, unknown> {
  return typeof x === "object" && x !== null && !Array.isArray(x);
}

function str(x: unknown, path: string, re?: RegExp, hint?: string): string {
  if (typeof x !== "string" || x.length === 0) throw new ConfigError(path, `must be a non-empty string, got ${JSON.stringify(x)}`);
  if (re && !re.test(x)) throw new ConfigError(path, `${JSON.stringify(x)} is not valid${hint ? ` (${hint})` : ""}`);
  return x;
}

function modelFile(x: unknown, path: string): ModelFile {
  if (!isObject(x)) throw new ConfigError(path, "must be an object { file, sha256, bytes }");
  const file = str(x.file, `${path}.file`, /^[A-Za-z0-9._-]+\.onnx$/, "a plain file name ending in .onnx");
  const sha256 = str(x.sha256, `${path}.sha256`, SHA256_RE, "64 lowercase hex digits");
  if (typeof x.bytes !== "number" || !Number.isInteger(x.bytes) || x.bytes <= 0) {
    throw new ConfigError(`${path}.bytes`, `must be a positive integer, got ${JSON.stringify(x.bytes)}`);
  }
  return { file, sha256, bytes: x.bytes };
}

function tensorSpecs(x: unknown, path: string): TensorSpec[] {
  if (!Array.isArray(x) || x.length === 0) throw new ConfigError(path, "must be a non-empty array of tensor specs");
  return x.map((t, i) => {
    const p = `${path}[${i}]`;
    if (!isObject(t)) throw new ConfigError(p, "must be an object { name, dims, dtype }");
    const name = str(t.name, `${p}.name`);
    if (!Array.isArray(t.dims) || t.dims.length === 0) throw new ConfigError(`${p}.dims`, "must be a non-empty array");
    const dims = t.dims.map((d, j) => {
      if (typeof d === "string" && d.length > 0) return d;
      if (typeof d === "number" && Number.isInteger(d) && d > 0) return d;
      throw new ConfigError(`${p}.dims[${j}]`, `must be a positive integer or a symbolic name, got ${JSON.stringify(d)}`);
    });
    if (t.dtype !== "float32") throw new ConfigError(`${p}.dtype`, `must be "float32", got ${JSON.stringify(t.dtype)}`);
    return { name, dims, dtype: "float32" as const };
  });
}

function numberRecord(x: unknown, path: string): Record<string, number> {
  if (!isObject(x)) throw new ConfigError(path, "must be an object of named numbers");
  for (const [k, v] of Object.entries(x)) {
    if (typeof v !== "number" || !Number.isFinite(v)) throw new ConfigError(`${path}.${k}`, `must be a finite number, got ${JSON.stringify(v)}`);
  }
  return x as Record<string, number>;
}

function calibration(x: unknown, path: string): SizeCalibration {
  if (!isObject(x)) throw new ConfigError(path, "must be an object { images, aspects, points, best, trainingSize }");
  const posInt = (v: unknown, p: string): number => {
    if (typeof v !== "number" || !Number.isInteger(v) || v < 1) throw new ConfigError(p, `must be a positive integer, got ${JSON.stringify(v)}`);
    return v;
  };
  const fraction = (v: unknown, p: string): number => {
    if (typeof v !== "number" || !(v >= 0 && v <= 1)) throw new ConfigError(p, `must be a number in [0, 1], got ${JSON.stringify(v)}`);
    return v;
  };
  const images = posInt(x.images, `${path}.images`);
  if (!Array.isArray(x.aspects) || x.aspects.length === 0) throw new ConfigError(`${path}.aspects`, "must be a non-empty array of aspect ratios");
  const aspects = x.aspects.map((a, i) => {
    if (typeof a !== "number" || !(a > 0) || !Number.isFinite(a)) throw new ConfigError(`${path}.aspects[${i}]`, `must be a positive number, got ${JSON.stringify(a)}`);
    return a;
  });
  if (!Array.isArray(x.points) || x.points.length === 0) throw new ConfigError(`${path}.points`, "must be a non-empty array");
  const points = x.points.map((pt, i) => {
    const p = `${path}.points[${i}]`;
    if (!isObject(pt)) throw new ConfigError(p, "must be an object { shortSide, top1, meanTop1 }");
    if (!Array.isArray(pt.top1) || pt.top1.length !== aspects.length) throw new ConfigError(`${p}.top1`, `must have one accuracy per aspect (${aspects.length})`);
    return { shortSide: posInt(pt.shortSide, `${p}.shortSide`), top1: pt.top1.map((v, j) => fraction(v, `${p}.top1[${j}]`)), meanTop1: fraction(pt.meanTop1, `${p}.meanTop1`) };
  });
  if (x.createdAt !== undefined && typeof x.createdAt !== "string") throw new ConfigError(`${path}.createdAt`, "must be an ISO date string");
  return {
    images,
    aspects,
    points,
    best: posInt(x.best, `${path}.best`),
    trainingSize: posInt(x.trainingSize, `${path}.trainingSize`),
    ...(typeof x.createdAt === "string" ? { createdAt: x.createdAt } : {}),
  };
}

/** Validate untrusted JSON into a ModelManifest. Throws ConfigError naming the first bad field. */
export function validateManifest(x: unknown): ModelManifest {
  if (!isObject(x)) throw new ConfigError("manifest", "must be a JSON object");
  if (x.schemaVersion !== 1) throw new ConfigError("schemaVersion", `must be 1, got ${JSON.stringify(x.schemaVersion)}`);
  const name = str(x.name, "name", MODEL_NAME_RE, MODEL_NAME_RULE);
  const version = str(x.version, "version", MODEL_NAME_RE, MODEL_NAME_RULE);
  if (!isObject(x.architecture)) throw new ConfigError("architecture", "must be an object with a name");
  str(x.architecture.name, "architecture.name");
  const model = modelFile(x.model, "model");
  let variants: Record<string, ModelFile> | undefined;
  if (x.variants !== undefined) {
    if (!isObject(x.variants)) throw new ConfigError("variants", "must be an object of model files");
    variants = Object.fromEntries(Object.entries(x.variants).map(([k, v]) => [k, modelFile(v, `variants.${k}`)]));
  }
  const inputs = tensorSpecs(x.inputs, "inputs");
  const outputs = tensorSpecs(x.outputs, "outputs");
  const preprocess = validatePreprocessConfig(x.preprocess, "preprocess");
  if (x.stride !== undefined && (typeof x.stride !== "number" || !Number.isInteger(x.stride) || x.stride < 1 || x.stride > 1024)) {
    throw new ConfigError("stride", `must be an integer 1..1024 (the net's total stride, e.g. 32), got ${JSON.stringify(x.stride)}`);
  }
  const stride = x.stride as number | undefined;
  const calib = x.calibration === undefined ? undefined : calibration(x.calibration, "calibration");
  if (!Array.isArray(x.classes) || x.classes.length < 2) throw new ConfigError("classes", "must be an array of at least 2 { wnid, label }");
  const seen = new Set<string>();
  const classes = x.classes.map((c, i) => {
    if (!isObject(c)) throw new ConfigError(`classes[${i}]`, "must be an object { wnid, label }");
    const wnid = str(c.wnid, `classes[${i}].wnid`, WNID_RE, "letters, digits, '_' or '-'");
    if (seen.has(wnid)) throw new ConfigError(`classes[${i}].wnid`, `duplicate class ${wnid}`);
    seen.add(wnid);
    return { wnid, label: str(c.label, `classes[${i}].label`) };
  });
  const out = outputs[0]!;
  const last = out.dims[out.dims.length - 1];
  if (typeof last === "number" && last !== classes.length) {
    throw new ConfigError("outputs[0].dims", `last dim is ${last} but classes has ${classes.length} entries`);
  }
  if (x.training !== undefined && !isObject(x.training)) throw new ConfigError("training", "must be an object");
  const metrics = x.metrics === undefined ? undefined : numberRecord(x.metrics, "metrics");
  if (x.createdAt !== undefined && typeof x.createdAt !== "string") throw new ConfigError("createdAt", "must be an ISO date string");
  return {
    schemaVersion: 1,
    name,
    version,
    architecture: x.architecture as ModelManifest["architecture"],
    model,
    ...(variants ? { variants } : {}),
    inputs,
    outputs,
    preprocess,
    ...(stride !== undefined ? { stride } : {}),
    ...(calib ? { calibration: calib } : {}),
    classes,
    ...(x.training !== undefined ? { training: x.training as Record<string, unknown> } : {}),
    ...(metrics ? { metrics } : {}),
    ...(typeof x.createdAt === "string" ? { createdAt: x.createdAt } : {}),
  };
}
