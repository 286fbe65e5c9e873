import { ConfigError } from "@resnet-edge/shared/errors";
import { availableParallelism } from "node:os";
import { ARCH_NAMES, type ArchName } from "./model/arch-table.ts";
import { PRESETS, type PresetName } from "./presets.ts";

/**
 * Everything a training run depends on, as one typed object. Resolution order:
 * DEFAULT_CONFIG <- preset (`--preset`) <- flags. Unknown keys and wrong types are errors. The resolved
 * config is printed, saved as `config.json` in the run folder and inside every checkpoint.
 */
/** An architecture of the table in model/arch-table.ts (the one list of names). */
export type Arch = ArchName;
export type BackendChoice = "auto" | "tensorflow" | "webgpu" | "wasm" | "cpu";

/** One phase of progressive resizing: train `epochs` at `size` px with a one-cycle peak of `lr`. */
export interface Stage {
  size: number;
  epochs: number;
  lr: number;
}

export interface TrainConfig {
  arch: Arch;
  /** Dataset folder in Imagenette layout, or a known download name (imagenette2-160, imagenette2-320). */
  data: string | null;
  /** Run folder: config.json, checkpoints, lr-find plot. */
  out: string;
  /** Where downloads and their extracted folders go. */
  cacheDir: string;
  /** Training / validation input size in pixels (square). */
  size: number;
  /** Item resize before augmentation; images are decoded once and cached at this size. */
  presize: number;
  epochs: number;
  /** Peak learning rate of the one-cycle schedule. */
  lr: number;
  bs: number;
  /** Decoupled (true) weight decay; not applied to BatchNorm and bias parameters. */
  wd: number;
  /** One-cycle: start at lr/div, end at lr/divFinal, warm up over pctStart of training. */
  div: number;
  divFinal: number;
  pctStart: number;
  /** Smallest fraction of the image area a random-resized crop keeps (aug_transforms min_scale). */
  minScale: number;
  /** Flip/rotate/zoom/warp/lighting on top of the random-resized crop; false keeps only the crop. */
  augment: boolean;
  /**
   * Multi-size training: each batch's shape drawn from stride-aligned sizes around `size` and aspects
   * 3:4..4:3 (trainer/src/data/multi-size.ts); false: the book's fixed square size. A config saved before
   * this field existed reads as false.
   */
  multiSize: boolean;
  /**
   * With multiSize: the smallest short side a batch is drawn at, in every stage (the set runs from it, rounded
   * to the stride, up to one stride above the stage's size); null = one stride below the stage's size.
   * It only widens the set. A config saved before this field existed reads as null.
   */
  multiSizeMin: number | null;
  /** Label smoothing epsilon; 0 disables. */
  labelSmoothing: number;
  /** Mixup Beta(alpha, alpha); 0 disables. */
  mixup: number;
  /** Use at most this many training images per class (a slice for CI and quick runs); null = all. */
  limit: number | null;
  /** Validation images per class; null = same as limit. */
  validLimit: number | null;
  /** Train on noisy_imagenette.csv labels at this noise percentage (0, 1, 5, 25, 50); null = folder labels. */
  noisy: number | null;
  /** Progressive resizing after the first stage, e.g. "128:2:1e-3" (size:epochs[:lr]); empty = none. */
  stages: Stage[];
  backend: BackendChoice;
  /** wasm backend: XNNPACK threads (default: defaultThreads()). */
  threads: number;
  seed: number;
}

export const ARCHS: readonly Arch[] = ARCH_NAMES;
export const BACKENDS: readonly BackendChoice[] = ["auto", "tensorflow", "webgpu", "wasm", "cpu"];
const NOISE_LEVELS = [0, 1, 5, 25, 50];

/**
 * Whether `--threads` defaults to every core. The one switch for that default, set from the idle-machine
 * measurement `npx tsx bench/train/epoch.ts --data <imagenette>` (BENCHMARKS.md, "Whole epoch"; 2026-12-02,
 * 2 cores, alone): a ResNet-18 64-px epoch takes 3.15 min on 2 threads against 5.35 on 1 (1.70x), and the
 * 128-px step 2029 against 3349 ms (bench/train/run.ts), with the wasm backend's own SIMD kernels.
 */
export const THREADS_DEFAULT_ALL_CORES = true;

/** The `--threads` default: every core (os.availableParallelism) or 1, per THREADS_DEFAULT_ALL_CORES. */
export function defaultThreads(cores: number = availableParallelism()): number {
  return THREADS_DEFAULT_ALL_CORES ? Math.max(1, cores) : 1;
}

export const DEFAULT_CONFIG: Readonly<TrainConfig> = Object.freeze({
  arch: "resnet18",
  data: null,
  out: "runs/latest",
  cacheDir: ".cache/resnet-edge",
  size: 128,
  presize: 160,
  epochs: 5,
  lr: 3e-3,
  bs: 64,
  wd: 0.01,
  div: 25,
  divFinal: 1e5,
  pctStart: 0.25,
  minScale: 0.5,
  augment: true,
  multiSize: true,
  multiSizeMin: null,
  labelSmoothing: 0,
  mixup: 0,
  limit: null,
  validLimit: null,
  noisy: null,
  stages: [],
  backend: "auto",
  threads: defaultThreads(),
  seed: 42,
});

type Kind = "int" | "number" | "string" | "boolean" | "arch" | "backend" | "stages" | "noise";

export interface FieldSpec {
  kind: Kind;
  nullable?: boolean;
  min?: number;
  max?: number;
  help: string;
}

/** The schema: how each key is validated and parsed from a flag. Flags are the kebab-case keys. */
export const CONFIG_FIELDS: { readonly [K in keyof TrainConfig]: FieldSpec } = {
  arch: { kind: "arch", help: `model: ${ARCHS.join("|")}` },
  data: { kind: "string", nullable: true, help: "Imagenette-layout folder (train/<wnid>/*, val/<wnid>/*) or imagenette2-160|imagenette2-320 to download" },
  out: { kind: "string", help: "run folder for config, checkpoints and plots" },
  cacheDir: { kind: "string", help: "download cache folder" },
  size: { kind: "int", min: 8, max: 1024, help: "training input size (px)" },
  presize: { kind: "int", min: 8, max: 2048, help: "decode-and-cache size before augmentation (px)" },
  epochs: { kind: "int", min: 1, max: 10_000, help: "epochs of the first stage" },
  lr: { kind: "number", min: 0, max: 10, help: "peak learning rate" },
  bs: { kind: "int", min: 1, max: 4096, help: "batch size" },
  wd: { kind: "number", min: 0, max: 1, help: "decoupled weight decay" },
  div: { kind: "number", min: 1, help: "one-cycle: start lr = lr/div" },
  divFinal: { kind: "number", min: 1, help: "one-cycle: final lr = lr/divFinal" },
  pctStart: { kind: "number", min: 0, max: 1, help: "one-cycle: warm-up fraction" },
  minScale: { kind: "number", min: 0.01, max: 1, help: "random-resized-crop minimum area fraction" },
  augment: { kind: "boolean", help: "flip/rotate/zoom/warp/lighting augmentations" },
  multiSize: { kind: "boolean", help: "draw each batch's size around --size (stride-aligned, one stride either side) and its aspect from 3:4..4:3; --no-multi-size trains at the book's fixed square size" },
  multiSizeMin: {
    kind: "int",
    nullable: true,
    min: 8,
    max: 1024,
    help: "with multi-size: also draw batches down to this short side in every stage (e.g. 64 in a 128-px stage: 64, 96, 128, 160), so a late stage keeps the small serving sizes; default one stride below --size",
  },
  labelSmoothing: { kind: "number", min: 0, max: 0.99, help: "label smoothing epsilon (0 = off)" },
  mixup: { kind: "number", min: 0, max: 100, help: "mixup alpha (0 = off)" },
  limit: { kind: "int", nullable: true, min: 1, help: "images per class for training (a slice)" },
  validLimit: { kind: "int", nullable: true, min: 1, help: "images per class for validation (default: --limit)" },
  noisy: { kind: "noise", nullable: true, help: "noisy_imagenette.csv label noise %: 0|1|5|25|50" },
  stages: { kind: "stages", help: "progressive resizing after the first stage: size:epochs[:lr],..." },
  backend: { kind: "backend", help: `compute backend: ${BACKENDS.join("|")}` },
  threads: { kind: "int", min: 1, max: 64, help: "wasm backend threads" },
  seed: { kind: "int", min: 0, help: "random seed (shuffling, augmentation, init)" },
};

export const CONFIG_KEYS = Object.keys(CONFIG_FIELDS) as (keyof TrainConfig)[];

/**
 * `trainer finetune`'s own settings, fastai's `fine_tune(epochs, base_lr, freeze_epochs, lr_mult)`; the rest
 * of a fine-tune's config is a TrainConfig (the checkpoint's saved one, overridden by flags).
 */
export interface FinetuneConfig {
  /** Phase-1 epochs: the head trains with the body frozen. */
  freezeEpochs: number;
  /** Phase 2's discriminative spread: the first layer group trains at lr/lrMult (1: every group at lr). */
  lrMult: number;
}

/** fastai's fine_tune defaults; `epochs` (phase 2) and `lr` (base_lr) replace the checkpoint's. */
export const FINETUNE_DEFAULTS: Readonly<FinetuneConfig & Pick<TrainConfig, "epochs" | "lr">> = Object.freeze({
  epochs: 1,
  lr: 2e-3,
  freezeEpochs: 1,
  lrMult: 100,
});

export const FINETUNE_FIELDS: { readonly [K in keyof FinetuneConfig]: FieldSpec & { kind: "int" | "number"; min: number; max: number } } = {
  freezeEpochs: { kind: "int", min: 0, max: 1000, help: "phase 1: epochs training the head with the body frozen" },
  lrMult: { kind: "number", min: 1, max: 1e6, help: "phase 2: the first layer group trains at lr/lr-mult (1 = every group at lr)" },
};

/** Check one config value; ConfigError names `path` (e.g. "--size"). */
export function validateConfigField<K extends keyof TrainConfig>(key: K, value: unknown, path: string): TrainConfig[K] {
  return validateValue(value, CONFIG_FIELDS[key], path) as TrainConfig[K];
}

function isObject(x: unknown): x is Record<string, unknown> {
  return typeof x === "object" && x !== null && !Array.isArray(x);
}

function checkRange(v: number, spec: FieldSpec, path: string): number {
  if (spec.min !== undefined && v < spec.min) throw new ConfigError(path, `must be >= ${spec.min}, got ${v}`);
  if (spec.max !== undefined && v > spec.max) throw new ConfigError(path, `must be <= ${spec.max}, got ${v}`);
  return v;
}

function validateStage(x: unknown, path: string): Stage {
  if (!isObject(x)) throw new ConfigError(path, "must be an object { size, epochs, lr }");
  for (const k of Object.keys(x)) {
    if (!["size", "epochs", "lr"].includes(k)) throw new ConfigError(`${path}.${k}`, "unknown key (allowed: size, epochs, lr)");
  }
  return {
    size: validateValue(x.size, CONFIG_FIELDS.size, `${path}.size`) as number,
    epochs: validateValue(x.epochs, CONFIG_FIELDS.epochs, `${path}.epochs`) as number,
    lr: validateValue(x.lr, CONFIG_FIELDS.lr, `${path}.lr`) as number,
  };
}

function validateValue(v: unknown, spec: FieldSpec, path: string): unknown {
  if (v === null && spec.nullable) return null;
  switch (spec.kind) {
    case "int":
      if (typeof v !== "number" || !Number.isInteger(v)) throw new ConfigError(path, `must be an integer, got ${JSON.stringify(v)}`);
      return checkRange(v, spec, path);
    case "number":
      if (typeof v !== "number" || !Number.isFinite(v)) throw new ConfigError(path, `must be a number, got ${JSON.stringify(v)}`);
      return checkRange(v, spec, path);
    case "string":
      if (typeof v !== "string" || v.length === 0) throw new ConfigError(path, `must be a non-empty string, got ${JSON.stringify(v)}`);
      return v;
    case "boolean":
      if (typeof v !== "boolean") throw new ConfigError(path, `must be true or false, got ${JSON.stringify(v)}`);
      return v;
    case "arch":
      if (typeof v !== "string" || !ARCHS.includes(v as Arch)) throw new ConfigError(path, `must be one of ${ARCHS.join(", ")}, got ${JSON.stringify(v)}`);
      return v;
    case "backend":
      if (typeof v !== "string" || !BACKENDS.includes(v as BackendChoice)) {
        throw new ConfigError(path, `must be one of ${BACKENDS.join(", ")}, got ${JSON.stringify(v)}`);
      }
      return v;
    case "noise":
      if (typeof v !== "number" || !NOISE_LEVELS.includes(v)) throw new ConfigError(path, `must be one of ${NOISE_LEVELS.join(", ")}, got ${JSON.stringify(v)}`);
      return v;
    case "stages":
      if (!Array.isArray(v)) throw new ConfigError(path, `must be an array of { size, epochs, lr }, got ${JSON.stringify(v)}`);
      return v.map((s, i) => validateStage(s, `${path}[${i}]`));
  }
}

/** Values for fields added after configs were first saved: what those runs did. */
const SAVED_BEFORE = { multiSize: false, multiSizeMin: null } as const;

/** Validate a complete config (e.g. read back from a checkpoint). Throws ConfigError naming the field. */
export function validateTrainConfig(x: unknown, path = "config"): TrainConfig {
  if (!isObject(x)) throw new ConfigError(path, "must be an object");
  checkKnownKeys(x, path);
  const out: Record<string, unknown> = {};
  for (const key of CONFIG_KEYS) {
    if (!(key in x) && key in SAVED_BEFORE) {
      out[key] = SAVED_BEFORE[key as keyof typeof SAVED_BEFORE];
      continue;
    }
    if (!(key in x)) throw new ConfigError(`${path}.${key}`, "is missing");
    out[key] = validateValue(x[key], CONFIG_FIELDS[key], `${path}.${key}`);
  }
  return out as unknown as TrainConfig;
}

function checkKnownKeys(x: Record<string, unknown>, path: string): void {
  for (const key of Object.keys(x)) {
    if (!(key in CONFIG_FIELDS)) {
      const hint = closest(key, CONFIG_KEYS);
      throw new ConfigError(`${path}.${key}`, `unknown key${hint ? ` (did you mean ${hint}?)` : ""}`);
    }
  }
}

/** Validate a partial config (a preset or parsed flags). */
export function validatePartialConfig(x: unknown, path: string): Partial<TrainConfig> {
  if (!isObject(x)) throw new ConfigError(path, "must be an object");
  checkKnownKeys(x, path);
  const out: Record<string, unknown> = {};
  for (const [key, v] of Object.entries(x)) {
    out[key] = validateValue(v, CONFIG_FIELDS[key as keyof TrainConfig], `${path}.${key}`);
  }
  return out as Partial<TrainConfig>;
}

/** defaults <- preset <- overrides, validated as a whole. */
export function resolveConfig(opts: { preset?: string | null; overrides?: Partial<TrainConfig> } = {}): TrainConfig {
  let preset: Partial<TrainConfig> = {};
  if (opts.preset) {
    if (!(opts.preset in PRESETS)) {
      throw new ConfigError("--preset", `unknown preset ${JSON.stringify(opts.preset)}; choose one of ${Object.keys(PRESETS).join(", ")}`);
    }
    preset = validatePartialConfig(PRESETS[opts.preset as PresetName].config, `preset ${opts.preset}`);
  }
  const overrides = validatePartialConfig(opts.overrides ?? {}, "flags");
  const merged = { ...DEFAULT_CONFIG, ...preset, ...overrides };
  if (!("out" in overrides)) merged.out = `runs/${opts.preset ?? merged.arch}`;
  const config = validateTrainConfig(merged);
  if (config.presize < config.size) {
    throw new ConfigError("presize", `(${config.presize}) is smaller than size (${config.size}); pass --presize >= --size`);
  }
  return config;
}

/** The first stage from size/epochs/lr, then progressive-resizing stages. */
export function stagesOf(config: TrainConfig): Stage[] {
  return [{ size: config.size, epochs: config.epochs, lr: config.lr }, ...config.stages];
}

/** "128:2,224:1:1e-3" -> stages; lr defaults to the first stage's lr. */
export function parseStages(text: string, defaultLr: number, path = "--stages"): Stage[] {
  if (text.trim() === "") return [];
  return text.split(",").map((part, i) => {
    const bits = part.trim().split(":");
    const [size, epochs, lr] = [Number(bits[0]), Number(bits[1]), bits[2] === undefined ? defaultLr : Number(bits[2])];
    if (bits.length < 2 || bits.length > 3 || !Number.isInteger(size) || !Number.isInteger(epochs) || !Number.isFinite(lr)) {
      throw new ConfigError(`${path}[${i}]`, `expected size:epochs[:lr] like 224:2 or 224:2:1e-3, got ${JSON.stringify(part)}`);
    }
    return validateStage({ size, epochs, lr }, `${path}[${i}]`);
  });
}

/** Levenshtein-nearest candidate within distance 3, for "did you mean" hints. */
export function closest(word: string, candidates: readonly string[]): string | null {
  let best: string | null = null;
  let bestD = 4;
  for (const c of candidates) {
    const d = editDistance(word.toLowerCase(), c.toLowerCase());
    if (d < bestD) [best, bestD] = [c, d];
  }
  return best;
}

function editDistance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    let prev = row[0]!;
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const tmp = row[j]!;
      row[j] = Math.min(row[j]! + 1, row[j - 1]! + 1, prev + (a[i - 1] === b[j - 1] ? 0 : 1));
      prev = tmp;
    }
  }
  return row[b.length]!;
}
