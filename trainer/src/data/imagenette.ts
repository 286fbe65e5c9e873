import { existsSync, statSync } from "node:fs";
import { readdir, readFile } from "node:fs/promises";
import { join, relative, sep } from "node:path";
import { DataError } from "./errors.ts";
import { makeRng } from "./random.ts";

/**
 * Imagenette's folder layout: <root>/train/<wnid>/*.JPEG and <root>/val/<wnid>/*.JPEG, the label of an
 * image is its parent folder. Optionally the training labels come from <root>/noisy_imagenette.csv
 * (fastai's column noisy_labels_<pct>).
 */
export interface Item {
  path: string;
  /** Index into `classes`. */
  label: number;
}

export interface ImageFolderSplit {
  classes: string[];
  train: Item[];
  valid: Item[];
}

export interface ScanOptions {
  /** At most this many training images per class (a fixed pseudo-random subset). */
  limit?: number | null;
  /** At most this many validation images per class; defaults to `limit`. */
  validLimit?: number | null;
  /** Noise percentage column of noisy_imagenette.csv to take training labels from. */
  noisy?: number | null;
}

const IMAGE_EXT = /\.(jpe?g|png|webp)$/i;
const LAYOUT_HINT = "expected train/<wnid>/*.JPEG and val/<wnid>/*.JPEG (the imagenette2 layout)";

async function listClassDirs(splitDir: string, split: string, root: string): Promise<Map<string, string[]>> {
  if (!existsSync(splitDir) || !statSync(splitDir).isDirectory()) {
    throw new DataError(`dataset ${root} has no ${split}/ folder: ${LAYOUT_HINT}; point --data at the folder that contains train/ and val/`, {
      root,
    });
  }
  const out = new Map<string, string[]>();
  const entries = (await readdir(splitDir, { withFileTypes: true })).filter((e) => e.isDirectory()).map((e) => e.name).sort();
  for (const wnid of entries) {
    const files = (await readdir(join(splitDir, wnid))).filter((f) => IMAGE_EXT.test(f)).sort();
    if (files.length > 0) out.set(wnid, files.map((f) => join(splitDir, wnid, f)));
  }
  if (out.size === 0) {
    throw new DataError(`dataset ${root}/${split} has no class folders with images: ${LAYOUT_HINT}`, { root });
  }
  return out;
}

/** A fixed pseudo-random subset of `n` paths (the same on every run and machine). */
function subset(paths: string[], n: number | null | undefined, salt: number): string[] {
  if (n === null || n === undefined || n >= paths.length) return paths;
  return makeRng(0x5eed, salt)
    .shuffle(paths)
    .slice(0, n)
    .sort();
}

export async function scanImageFolder(root: string, opts: ScanOptions = {}): Promise<ImageFolderSplit> {
  if (!existsSync(root) || !statSync(root).isDirectory()) {
    throw new DataError(
      `no dataset folder at ${root}: pass --data <folder with train/ and val/> or --data imagenette2-160 to download it`,
      { root },
    );
  }
  const trainDirs = await listClassDirs(join(root, "train"), "train", root);
  const validDirs = await listClassDirs(join(root, "val"), "val", root);
  const classes = [...trainDirs.keys()];
  const missing = [...validDirs.keys()].filter((w) => !trainDirs.has(w));
  if (missing.length > 0) {
    throw new DataError(`dataset ${root}: val/ has classes that train/ lacks (${missing.slice(0, 3).join(", ")}): both splits need the same class folders`);
  }
  const index = new Map(classes.map((w, i) => [w, i]));
  const items = (dirs: Map<string, string[]>, limit: number | null | undefined, salt: number): Item[] =>
    [...dirs].flatMap(([wnid, paths], ci) => subset(paths, limit, salt + ci).map((path) => ({ path, label: index.get(wnid)! })));
  let train = items(trainDirs, opts.limit, 1000);
  const valid = items(validDirs, opts.validLimit ?? opts.limit, 2000);
  if (opts.noisy !== null && opts.noisy !== undefined) {
    const labels = await readNoisyLabels(join(root, "noisy_imagenette.csv"), opts.noisy);
    train = train.map((item) => {
      const rel = relative(root, item.path).split(sep).join("/");
      const wnid = labels.get(rel);
      if (wnid === undefined) {
        throw new DataError(`noisy_imagenette.csv has no row for ${rel}: use the csv that came with this dataset or drop --noisy`);
      }
      const label = index.get(wnid);
      if (label === undefined) throw new DataError(`noisy_imagenette.csv labels ${rel} as ${wnid}, which is not a class folder in ${root}/train`);
      return { path: item.path, label };
    });
  }
  return { classes, train, valid };
}

/** path ("train/<wnid>/<file>") -> wnid, from the noisy_labels_<pct> column of fastai's csv. */
export async function readNoisyLabels(csvPath: string, pct: number): Promise<Map<string, string>> {
  let text: string;
  try {
    text = await readFile(csvPath, "utf8");
  } catch {
    throw new DataError(`--noisy needs ${csvPath} (fastai's noisy_imagenette.csv beside train/ and val/): put it there or drop --noisy`);
  }
  const lines = text.split(/\r?\n/).filter((l) => l.length > 0);
  const header = lines[0]?.split(",") ?? [];
  const pathCol = header.indexOf("path");
  const col = header.indexOf(`noisy_labels_${pct}`);
  if (pathCol < 0 || col < 0) {
    throw new DataError(`${csvPath} has no path / noisy_labels_${pct} columns (found: ${header.join(", ")}): use fastai's noisy_imagenette.csv`);
  }
  const out = new Map<string, string>();
  for (const line of lines.slice(1)) {
    const cells = line.split(",");
    out.set(cells[pathCol]!, cells[col]!);
  }
  return out;
}
