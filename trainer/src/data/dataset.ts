import * as tf from "@tensorflow/tfjs-core";
import { decodeImage, ImageError, preprocess, type TtaView, type ViewTensor } from "@resnet-edge/shared";
import { constants as bufferConstants } from "node:buffer";
import { createHash } from "node:crypto";
import { mkdir, readFile, rename, stat, writeFile } from "node:fs/promises";
import { dirname, join, resolve } from "node:path";
import { resampleImages, sampleAugmentation } from "./augment.ts";
import { DataError } from "./errors.ts";
import type { Item } from "./imagenette.ts";
import { presizeImage } from "./presize.ts";
import { prefetch } from "./prefetch.ts";
import { drawBatchShape } from "./multi-size.ts";
import { makeRng } from "./random.ts";
import { servingPreprocess } from "./serving-preprocess.ts";
import type { Batch, BatchSource, DataLoaders } from "./types.ts";

/**
 * An image-classification dataset held in memory the way training wants it:
 * - train: every image decoded once through shared's decoder and presized through shared's ops, kept as
 *   bytes [n, presize, presize, 3], so epochs never re-decode JPEGs; each batch is augmented straight from
 *   those bytes (resampleImages);
 * - valid: the compressed file bytes, turned into model input by shared's `preprocess` (exactly what the
 *   edge runs) once per input size and cached as float32.
 */
export interface LoadOptions {
  presize: number;
  /**
   * Folder for the decoded-at-presize training pixels, keyed by the files' paths, sizes and mtimes and
   * the presize, so a second run on the same data skips decoding. Omit to keep them in memory only.
   */
  cacheDir?: string;
  /** Called every ~2% while decoding. */
  onProgress?: (done: number, total: number, split: "train" | "valid") => void;
}

export interface LoaderOptions {
  size: number;
  bs: number;
  minScale: number;
  augment: boolean;
  seed: number;
  /** Batches prepared ahead of the training step (default 1). */
  prefetch?: number;
  /** Draw each training batch's shape around `size` (see multi-size.ts); needs `stride`. */
  multiSize?: boolean;
  /** With multiSize: the smallest short side drawn (multiSizeSet's minSize); null/omitted = one stride below `size`. */
  multiSizeMin?: number | null;
  /**
   * The net's total stride: validation rounds both tensor sides to it, as the worker does (see
   * servingPreprocess). Omitted: no rounding.
   */
  stride?: number;
}

/** Validation inputs as served: one NHWC tensor per image, in item order. */
export interface ValidTensors {
  data: Float32Array[];
  /** [height, width] of each. */
  shapes: [number, number][];
}

const READ_CONCURRENCY = 8;
/** The largest typed array Node allows (buffer.constants.MAX_LENGTH: 4 GiB on Node 20). */
export const MAX_PRESIZED_BYTES = bufferConstants.MAX_LENGTH;
/** Bump when presizing changes (shared's resize, crop or colour handling), to invalidate caches. */
const CACHE_VERSION = "presize-v1";

async function cacheKey(items: readonly Item[], presize: number): Promise<string> {
  const h = createHash("sha256").update(`${CACHE_VERSION}\n${presize}\n`);
  for (const it of items) {
    const st = await stat(it.path);
    // Absolute, so `--data ../x` and `--data /abs/x` share one cache entry.
    h.update(`${resolve(it.path)}\t${st.size}\t${st.mtimeMs}\n`);
  }
  return h.digest("hex").slice(0, 24);
}

async function readCached(file: string, expectedBytes: number): Promise<Uint8Array | null> {
  try {
    const b = await readFile(file);
    return b.length === expectedBytes ? new Uint8Array(b.buffer, b.byteOffset, b.byteLength) : null;
  } catch {
    return null;
  }
}

async function writeCached(file: string, data: Uint8Array): Promise<void> {
  await mkdir(dirname(file), { recursive: true });
  const tmp = `${file}.tmp-${process.pid}`;
  await writeFile(tmp, data);
  await rename(tmp, file);
}

async function readAll(items: readonly Item[], onEach: (bytes: Uint8Array, i: number) => Promise<void>): Promise<void> {
  let next = 0;
  const pending = new Map<number, Promise<Uint8Array>>();
  const start = (i: number): void => {
    if (i >= items.length) return;
    const read = readFile(items[i]!.path).then((b) => new Uint8Array(b.buffer, b.byteOffset, b.byteLength));
    // Reads still in flight when an earlier one fails are never awaited: keep their failures handled.
    read.catch(() => {});
    pending.set(i, read);
  };
  for (let k = 0; k < READ_CONCURRENCY; k++) start(next++);
  for (let i = 0; i < items.length; i++) {
    let bytes: Uint8Array;
    try {
      bytes = await pending.get(i)!;
    } catch (e) {
      throw new DataError(`cannot read ${items[i]!.path}: ${(e as Error).message}; check the dataset folder`);
    }
    pending.delete(i);
    start(next++);
    await onEach(bytes, i);
  }
}

function wrapImageError(e: unknown, path: string): never {
  if (e instanceof ImageError) throw new DataError(`${path}: ${e.message} (remove the file or replace it with a readable JPEG/PNG)`, { path, code: e.code });
  throw e;
}

export class ImageDataset {
  private validCache: { key: string; tensors: ValidTensors } | null = null;

  private constructor(
    readonly classes: string[],
    readonly presize: number,
    /** [nTrain, presize, presize, 3] */
    readonly trainPixels: Uint8Array,
    readonly trainLabels: Int32Array,
    readonly validItems: Item[],
    private readonly validBytes: Uint8Array[],
    readonly validLabels: Int32Array,
  ) {}

  get nTrain(): number {
    return this.trainLabels.length;
  }

  get nValid(): number {
    return this.validLabels.length;
  }

  /**
   * Decode and presize the training images, read the validation bytes. Codecs must be initialised.
   * Memory: the training set is held as one uint8 array of nTrain x presize^2 x 3 bytes (Imagenette's
   * 9469 images: 182 MB at presize 80, 727 MB at 160), at most MAX_PRESIZED_BYTES; validation as file bytes.
   */
  static async load(split: { classes: string[]; train: Item[]; valid: Item[] }, opts: LoadOptions): Promise<ImageDataset> {
    const P = opts.presize;
    const need = split.train.length * P * P * 3;
    if (need > MAX_PRESIZED_BYTES) {
      throw new DataError(
        `the presized training images need ${(need / 2 ** 30).toFixed(1)} GiB (${split.train.length} x ${P} x ${P} x 3 bytes); ` +
          `one array holds at most ${(MAX_PRESIZED_BYTES / 2 ** 30).toFixed(0)} GiB: lower --presize or train on fewer images (--limit)`,
      );
    }
    const maxPixels = servingPreprocess(P).maxPixels;
    const background = servingPreprocess(P).background;
    const cacheFile = opts.cacheDir && split.train.length > 0 ? join(opts.cacheDir, `presized-${await cacheKey(split.train, P)}.u8`) : null;
    let pixels = cacheFile ? await readCached(cacheFile, split.train.length * P * P * 3) : null;
    if (pixels) opts.onProgress?.(split.train.length, split.train.length, "train");
    else {
      const fresh = new Uint8Array(split.train.length * P * P * 3);
      const step = Math.max(1, Math.floor(split.train.length / 50));
      await readAll(split.train, async (bytes, i) => {
        const path = split.train[i]!.path;
        const decoded = await decodeImage(bytes, { maxPixels }).catch((e: unknown) => wrapImageError(e, path));
        fresh.set(presizeImage(decoded, P, background).data, i * P * P * 3);
        if (i % step === 0 || i === split.train.length - 1) opts.onProgress?.(i + 1, split.train.length, "train");
      });
      if (cacheFile) await writeCached(cacheFile, fresh);
      pixels = fresh;
    }
    const validBytes: Uint8Array[] = [];
    await readAll(split.valid, async (bytes) => {
      validBytes.push(bytes);
    });
    opts.onProgress?.(split.valid.length, split.valid.length, "valid");
    return new ImageDataset(
      split.classes,
      P,
      pixels,
      Int32Array.from(split.train, (it) => it.label),
      split.valid,
      validBytes,
      Int32Array.from(split.valid, (it) => it.label),
    );
  }

  /**
   * Validation inputs at `size` through shared's preprocess with the serving config (decode -> shortest
   * edge to `size` -> sides rounded to `stride` -> normalise), cached for the last (size, stride).
   */
  async validTensors(size: number, stride?: number): Promise<ValidTensors> {
    const key = `${size}/${stride ?? 0}`;
    if (this.validCache?.key === key) return this.validCache.tensors;
    this.validCache = null;
    const cfg = servingPreprocess(size, stride);
    const tensors: ValidTensors = { data: [], shapes: [] };
    for (let i = 0; i < this.nValid; i++) {
      const out = await preprocess(this.validBytes[i]!, cfg, { layout: "NHWC" }).catch((e: unknown) => wrapImageError(e, this.validItems[i]!.path));
      tensors.data.push(out.data);
      tensors.shapes.push([out.dims[1], out.dims[2]]);
    }
    this.validCache = { key, tensors };
    return tensors;
  }

  /**
   * fastai's `learn.tta()` inputs: each validation image's TTA views (shared's, as `?tta=1` serves them),
   * NHWC, at the serving config for `size`/`stride`. Not cached (4x the memory of validTensors).
   */
  async *validViews(size: number, stride: number | undefined, views: readonly TtaView[]): AsyncGenerator<{ label: number; views: ViewTensor[] }> {
    const cfg = servingPreprocess(size, stride);
    for (let i = 0; i < this.nValid; i++) {
      const out = await preprocess(this.validBytes[i]!, cfg, { layout: "NHWC", views }).catch((e: unknown) => wrapImageError(e, this.validItems[i]!.path));
      yield { label: this.validLabels[i]!, views: out.views! };
    }
  }

  loaders(opts: LoaderOptions): DataLoaders {
    return { train: new TrainSource(this, opts), valid: new ValidSource(this, opts), classes: this.classes, size: opts.size };
  }
}

const disposeBatch = (b: Batch): void => {
  b.x.dispose();
  b.y.dispose();
};

/** Shuffled each epoch (seed, epoch), last partial batch dropped (fastai's drop_last on train). */
class TrainSource implements BatchSource {
  readonly nItems: number;
  readonly nBatches: number;
  private readonly bs: number;

  constructor(
    private readonly ds: ImageDataset,
    private readonly opts: LoaderOptions,
  ) {
    this.nItems = ds.nTrain;
    this.bs = Math.min(opts.bs, ds.nTrain);
    this.nBatches = this.bs === 0 ? 0 : Math.floor(ds.nTrain / this.bs);
  }

  batches(epoch: number): AsyncIterable<Batch> {
    return prefetch(this.generate(epoch), this.opts.prefetch ?? 1, disposeBatch);
  }

  private async *generate(epoch: number): AsyncGenerator<Batch> {
    const rng = makeRng(this.opts.seed, epoch, 0xa06);
    const order = rng.shuffle(Array.from({ length: this.nItems }, (_, i) => i));
    const P = this.ds.presize;
    const { mean, std } = servingPreprocess(this.opts.size);
    // Batch shapes come from their own stream, so the images' augmentations are those of a fixed-size run.
    const shapes = makeRng(this.opts.seed, epoch, 0x512e);
    const { stride, multiSize } = this.opts;
    for (let b = 0; b < this.nBatches; b++) {
      const idx = order.slice(b * this.bs, (b + 1) * this.bs);
      const [h, w] = multiSize && stride ? drawBatchShape(shapes, this.opts.size, stride, { minSize: this.opts.multiSizeMin ?? null }) : [this.opts.size, this.opts.size];
      const augs = idx.map(() =>
        sampleAugmentation(rng, P, { size: h, ...(w !== h ? { width: w } : {}), minScale: this.opts.minScale, full: this.opts.augment }),
      );
      const x = tf.tensor4d(resampleImages(this.ds.trainPixels, idx, P, augs, [h, w], mean, std), [idx.length, h, w, 3]);
      const y = tf.tensor1d(Int32Array.from(idx, (k) => this.ds.trainLabels[k]!), "int32");
      yield { x, y };
      // Give pending I/O callbacks a turn between batches.
      await new Promise<void>((r) => setImmediate(r));
    }
  }
}

/**
 * In order, all items, at most `bs` per batch; a batch also ends where the tensor shape changes (images of
 * another aspect ratio get another tensor shape, as in serving), so the last batch of a run may be smaller.
 */
class ValidSource implements BatchSource {
  readonly nItems: number;
  readonly nBatches: number;

  constructor(
    private readonly ds: ImageDataset,
    private readonly opts: LoaderOptions,
  ) {
    this.nItems = ds.nValid;
    this.nBatches = Math.ceil(ds.nValid / opts.bs);
  }

  batches(): AsyncIterable<Batch> {
    return prefetch(this.generate(), this.opts.prefetch ?? 1, disposeBatch);
  }

  private async *generate(): AsyncGenerator<Batch> {
    const { data, shapes } = await this.ds.validTensors(this.opts.size, this.opts.stride);
    let lo = 0;
    while (lo < this.nItems) {
      const [h, w] = shapes[lo]!;
      let hi = lo + 1;
      while (hi < this.nItems && hi - lo < this.opts.bs && shapes[hi]![0] === h && shapes[hi]![1] === w) hi++;
      const per = h * w * 3;
      const x = new Float32Array((hi - lo) * per);
      for (let i = lo; i < hi; i++) x.set(data[i]!, (i - lo) * per);
      yield {
        x: tf.tensor4d(x, [hi - lo, h, w, 3]),
        y: tf.tensor1d(this.ds.validLabels.subarray(lo, hi), "int32"),
      };
      lo = hi;
    }
  }
}
