import { ARCHITECTURES, totalStride } from "../model/arch-table.ts";
import { ConfigError } from "@resnet-edge/shared";
import { initCodecs } from "@resnet-edge/shared/node";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { initBackend } from "../backend/init-backend.ts";
import type { TrainConfig } from "../config.ts";
import { ImageDataset } from "../data/dataset.ts";
import { ensureDataset, KNOWN_DATASETS } from "../data/download.ts";
import { DataError } from "../data/errors.ts";
import { scanImageFolder, type ImageFolderSplit } from "../data/imagenette.ts";
import { archSpec, createModel } from "../model/index.ts";
import type { Model } from "../model/types.ts";
import type { Callback } from "./events.ts";
import { ensureGradients } from "./gradients.ts";
import { Learner } from "./learner.ts";

/** Where a run reports: `log` for notices and progress (stderr), `write` for results (stdout). */
export interface RunIO {
  log: (line: string) => void;
  write: (line: string) => void;
}

export const consoleIO: RunIO = {
  log: (l) => process.stderr.write(`${l}\n`),
  write: (l) => process.stdout.write(`${l}\n`),
};

export async function setupBackend(config: TrainConfig, io: RunIO): Promise<string> {
  let info: Awaited<ReturnType<typeof initBackend>>;
  try {
    info = await initBackend(config.backend, { threads: config.threads, log: io.log });
  } catch (e) {
    // An explicitly requested backend that cannot start here is a setup problem the user can fix.
    if (config.backend !== "auto") throw new ConfigError("--backend", `${(e as Error).message}`);
    throw e;
  }
  await ensureGradients();
  return info.name;
}

/** `--data` as a folder, or a known archive name that is downloaded into the cache first. */
export async function resolveDataDir(config: TrainConfig, io: RunIO): Promise<string> {
  if (config.data === null) {
    throw new DataError(`no dataset given: pass --data <folder with train/ and val/> or --data ${Object.keys(KNOWN_DATASETS).join("|")}`);
  }
  const known = KNOWN_DATASETS[config.data];
  if (known && !existsSync(config.data)) {
    io.log(`dataset ${known.name}: ${known.url} -> ${config.cacheDir}`);
    let lastPct = -1;
    return ensureDataset(known, {
      cacheDir: config.cacheDir,
      onProgress: (have, total) => {
        const pct = total ? Math.floor((100 * have) / total) : -1;
        if (pct >= lastPct + 10) {
          lastPct = pct;
          io.log(`  downloaded ${(have / 1e6).toFixed(1)} MB${total ? ` of ${(total / 1e6).toFixed(1)} MB` : ""}`);
        }
      },
    });
  }
  return config.data;
}

/** Find the data and check its layout (cheap: no decoding), so mistakes surface before any work. */
export async function scanData(config: TrainConfig, io: RunIO, opts: { validOnly?: boolean } = {}): Promise<{ dir: string; split: ImageFolderSplit }> {
  const dir = await resolveDataDir(config, io);
  const split = await scanImageFolder(dir, { limit: config.limit, validLimit: config.validLimit, noisy: config.noisy });
  if (opts.validOnly) split.train = [];
  return { dir, split };
}

/** Decode and presize what `scanData` found. */
export async function loadDataset(config: TrainConfig, io: RunIO, scanned: { dir: string; split: ImageFolderSplit }): Promise<ImageDataset> {
  const { dir, split } = scanned;
  await initCodecs();
  const t0 = performance.now();
  io.log(`data: ${dir}: ${split.classes.length} classes, ${split.train.length} train / ${split.valid.length} valid images; decoding at ${config.presize}px`);
  let lastPct = -1;
  const ds = await ImageDataset.load(split, {
    presize: config.presize,
    cacheDir: join(config.cacheDir, "presized"),
    onProgress: (done, total, which) => {
      const pct = Math.floor((100 * done) / Math.max(1, total));
      if (which === "train" && pct >= lastPct + 25) {
        lastPct = pct;
        io.log(`  decoded ${done}/${total}`);
      }
    },
  });
  io.log(`data: ready in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
  return ds;
}

export function buildModel(config: TrainConfig, nClasses: number): Model {
  return createModel(archSpec(config.arch, { nOut: nClasses }), { seed: config.seed });
}

/** The data loaders' settings from a config (the size comes per stage). */
export function loaderOpts(config: TrainConfig): { bs: number; minScale: number; augment: boolean; seed: number; stride: number; multiSize: boolean; multiSizeMin: number | null } {
  // Validation rounds tensor sides to the net's stride, exactly as the exported model is served.
  const stride = totalStride(ARCHITECTURES[config.arch]);
  return { bs: config.bs, minScale: config.minScale, augment: config.augment, seed: config.seed, stride, multiSize: config.multiSize, multiSizeMin: config.multiSizeMin };
}

/**
 * The learner every run-*.ts trains or evaluates with: `model` on the dataset's loaders at `size`
 * (default config.size), with the config's loss (label smoothing, mixup), weight decay and seed.
 */
export function learnerFromConfig(config: TrainConfig, model: Model, dataset: ImageDataset, opts: { size?: number; callbacks?: Callback[] } = {}): Learner {
  return new Learner(model, dataset.loaders({ ...loaderOpts(config), size: opts.size ?? config.size }), {
    labelSmoothing: config.labelSmoothing,
    mixup: config.mixup,
    wd: config.wd,
    seed: config.seed,
    ...(opts.callbacks ? { callbacks: opts.callbacks } : {}),
  });
}
