import * as tf from "@tensorflow/tfjs-core";
import { decodeImage, normalizeToTensor, preprocess, preprocessImage } from "@resnet-edge/shared";
import { initCodecs } from "@resnet-edge/shared/node";
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { beforeAll, describe, expect, test } from "vitest";
import { initBackend } from "../../trainer/src/backend/init-backend.ts";
import { ImageDataset } from "../../trainer/src/data/dataset.ts";
import { DataError } from "../../trainer/src/data/errors.ts";
import { scanImageFolder } from "../../trainer/src/data/imagenette.ts";
import { prefetch } from "../../trainer/src/data/prefetch.ts";
import { presizeImage } from "../../trainer/src/data/presize.ts";
import { servingPreprocess } from "../../trainer/src/data/serving-preprocess.ts";
import { hasImagenette, IMAGENETTE_DIR, needs } from "../helpers/data.ts";

function fakeFolder(layout: Record<string, string[]>): string {
  const root = mkdtempSync(join(tmpdir(), "imgfolder-"));
  for (const [dir, files] of Object.entries(layout)) {
    mkdirSync(join(root, dir), { recursive: true });
    for (const f of files) writeFileSync(join(root, dir, f), "x");
  }
  return root;
}

describe("image folder scan", () => {
  test("labels come from the parent folder, classes sorted, same on both splits", async () => {
    const root = fakeFolder({
      "train/n02": ["b.JPEG", "a.jpg", "notes.txt"],
      "train/n01": ["c.png"],
      "val/n01": ["d.JPEG"],
      "val/n02": ["e.JPEG"],
    });
    const s = await scanImageFolder(root);
    expect(s.classes).toEqual(["n01", "n02"]);
    expect(s.train.map((i) => [i.path.slice(root.length + 1), i.label])).toEqual([
      ["train/n01/c.png", 0],
      ["train/n02/a.jpg", 1],
      ["train/n02/b.JPEG", 1],
    ]);
    expect(s.valid.map((i) => i.label)).toEqual([0, 1]);
  });

  test("--limit keeps a fixed subset per class; validLimit overrides for val", async () => {
    const files = Array.from({ length: 20 }, (_, i) => `img${String(i).padStart(2, "0")}.JPEG`);
    const root = fakeFolder({ "train/a": files, "train/b": files, "val/a": files, "val/b": files });
    const s1 = await scanImageFolder(root, { limit: 5, validLimit: 3 });
    const s2 = await scanImageFolder(root, { limit: 5, validLimit: 3 });
    expect(s1.train).toHaveLength(10);
    expect(s1.valid).toHaveLength(6);
    expect(s1.train).toEqual(s2.train);
    // Not simply the first five files.
    expect(s1.train.filter((i) => i.label === 0).map((i) => i.path)).not.toEqual(files.slice(0, 5).map((f) => join(root, "train/a", f)));
  });

  test("wrong layouts are DataErrors that say what layout is expected", async () => {
    await expect(scanImageFolder("/definitely/not/here")).rejects.toThrow(/no dataset folder at .*--data/);
    const noVal = fakeFolder({ "train/a": ["x.JPEG"] });
    await expect(scanImageFolder(noVal)).rejects.toThrow(/has no val\/ folder: expected train\/<wnid>/);
    const flat = fakeFolder({ train: ["x.JPEG"], val: ["y.JPEG"] });
    await expect(scanImageFolder(flat)).rejects.toThrow(DataError);
    const extra = fakeFolder({ "train/a": ["x.JPEG"], "val/a": ["y.JPEG"], "val/zz": ["z.JPEG"] });
    await expect(scanImageFolder(extra)).rejects.toThrow(/val\/ has classes that train\/ lacks \(zz\)/);
  });

  test("noisy labels from noisy_imagenette.csv", async () => {
    const root = fakeFolder({ "train/n01": ["a.JPEG", "b.JPEG"], "train/n02": ["c.JPEG"], "val/n01": ["v.JPEG"], "val/n02": ["w.JPEG"] });
    writeFileSync(
      join(root, "noisy_imagenette.csv"),
      "path,noisy_labels_0,noisy_labels_1,noisy_labels_5,noisy_labels_25,noisy_labels_50,is_valid\n" +
        "train/n01/a.JPEG,n01,n01,n01,n02,n02,False\ntrain/n01/b.JPEG,n01,n01,n01,n01,n01,False\ntrain/n02/c.JPEG,n02,n02,n02,n02,n01,False\n",
    );
    const clean = await scanImageFolder(root, { noisy: 0 });
    const noisy = await scanImageFolder(root, { noisy: 50 });
    expect(clean.train.map((i) => i.label)).toEqual([0, 0, 1]);
    expect(noisy.train.map((i) => i.label)).toEqual([1, 0, 0]);
    expect(noisy.valid.map((i) => i.label)).toEqual([0, 1]); // validation keeps folder labels
    const noCsv = fakeFolder({ "train/n01": ["a.JPEG"], "val/n01": ["v.JPEG"] });
    await expect(scanImageFolder(noCsv, { noisy: 5 })).rejects.toThrow(/noisy_imagenette\.csv.*drop --noisy/);
  });
});

describe("presized training set in memory", () => {
  test("a training set larger than one array can hold is a DataError that says what to lower, before any decoding", async () => {
    const train = Array.from({ length: 400 }, (_, i) => ({ path: `missing-${i}.jpg`, label: 0 }));
    // 400 x 2048 x 2048 x 3 bytes = 4.7 GiB > 4 GiB
    const err = await ImageDataset.load({ classes: ["a"], train, valid: [] }, { presize: 2048 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DataError);
    expect((err as Error).message).toMatch(/4\.7 GiB .*400 x 2048 x 2048 x 3.*lower --presize/);
    // Under the limit it goes on to read the files (which here do not exist).
    const small = await ImageDataset.load({ classes: ["a"], train: train.slice(0, 2), valid: [] }, { presize: 2048 }).catch((e: unknown) => e);
    expect((small as Error).message).not.toMatch(/GiB/);
  });
});

describe("prefetch", () => {
  test("keeps items in flight, yields them in order, disposes what an early stop leaves behind", async () => {
    const produced: number[] = [];
    async function* source(): AsyncGenerator<number> {
      for (let i = 0; i < 10; i++) {
        produced.push(i);
        yield i;
      }
    }
    const all: number[] = [];
    for await (const v of prefetch(source(), 2, () => {})) all.push(v);
    expect(all).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);

    produced.length = 0;
    const disposed: number[] = [];
    const got: number[] = [];
    for await (const v of prefetch(source(), 2, (x) => void disposed.push(x))) {
      got.push(v);
      if (v === 1) break;
    }
    expect(got).toEqual([0, 1]);
    // Everything produced but not consumed was handed back for disposal.
    expect([...got, ...disposed].sort()).toEqual([...produced].sort());
    expect(disposed.length).toBeGreaterThan(0);
  });
});

describe.skipIf(!hasImagenette)("real Imagenette slice", () => {
  beforeAll(async () => {
    await initBackend("wasm");
    await initCodecs();
  });

  test("real data layout: 10 classes, parachute is n03888257", async () => {
    const s = await scanImageFolder(IMAGENETTE_DIR, { limit: 2 });
    expect(s.classes).toHaveLength(10);
    expect(s.classes).toContain("n03888257");
    expect(s.train).toHaveLength(20);
  });

  test("presize is shared's pixel path; validation tensors are shared's preprocess, bit for bit", async () => {
    const split = await scanImageFolder(IMAGENETTE_DIR, { limit: 2, validLimit: 1 });
    const ds = await ImageDataset.load(split, { presize: 72 });
    // The cached presized bytes normalise to exactly what preprocessImage makes at that size.
    const first = await decodeImage(new Uint8Array(readFileSync(split.train[0]!.path)), { maxPixels: 1e8 });
    const mine = normalizeToTensor(presizeImage(first, 72, [255, 255, 255]), [0.485, 0.456, 0.406], [0.229, 0.224, 0.225], "NHWC");
    const theirs = preprocessImage(first, servingPreprocess(72), { layout: "NHWC" });
    expect(Buffer.from(mine.data.buffer).equals(Buffer.from(theirs.data.buffer))).toBe(true);
    expect(Buffer.from(ds.trainPixels.subarray(0, 72 * 72 * 3)).equals(Buffer.from(presizeImage(first, 72, [255, 255, 255]).data))).toBe(true);

    const dls = ds.loaders({ size: 48, bs: 4, minScale: 0.5, augment: true, seed: 1 });
    const got: Float32Array[] = [];
    for await (const b of dls.valid.batches(0)) {
      expect(b.x.shape.slice(1)).toEqual([48, 48, 3]);
      got.push(b.x.dataSync() as Float32Array);
      tf.dispose([b.x, b.y]);
    }
    const all = Float32Array.from(got.flatMap((a) => Array.from(a)));
    const per = 48 * 48 * 3;
    for (let i = 0; i < split.valid.length; i++) {
      const ref = await preprocess(new Uint8Array(readFileSync(split.valid[i]!.path)), servingPreprocess(48), { layout: "NHWC" });
      expect(Buffer.from(all.slice(i * per, (i + 1) * per).buffer).equals(Buffer.from(ref.data.buffer)), split.valid[i]!.path).toBe(true);
    }
  });

  test("the presized pixels are cached on disk and reused by the next load", async () => {
    const split = await scanImageFolder(IMAGENETTE_DIR, { limit: 1, validLimit: 1 });
    const cacheDir = mkdtempSync(join(tmpdir(), "presized-"));
    const progress: number[][] = [];
    const a = await ImageDataset.load(split, { presize: 36, cacheDir, onProgress: (d, t, w) => void (w === "train" && progress.push([d, t])) });
    const decodedCalls = progress.length;
    expect(decodedCalls).toBeGreaterThan(1);
    const b = await ImageDataset.load(split, { presize: 36, cacheDir, onProgress: (d, t, w) => void (w === "train" && progress.push([d, t])) });
    expect(progress.length - decodedCalls).toBe(1); // one "done" report, no per-image decoding
    expect(Buffer.from(b.trainPixels).equals(Buffer.from(a.trainPixels))).toBe(true);
    // Another presize is another cache entry.
    const c = await ImageDataset.load(split, { presize: 32, cacheDir });
    expect(c.trainPixels.length).toBe(10 * 32 * 32 * 3);
  });

  test("an epoch visits every training image exactly once, in a new order each epoch, straight from the presized bytes", async () => {
    const split = await scanImageFolder(IMAGENETTE_DIR, { limit: 2, validLimit: 1 });
    const P = 24;
    const ds = await ImageDataset.load(split, { presize: P });
    // Crop-only at min_scale 1 and size = presize: the identity resample, so every batch image is one
    // presized image, normalised, and can be told apart from the others.
    const dls = ds.loaders({ size: P, bs: 5, minScale: 1, augment: false, seed: 3 });
    const { mean, std } = servingPreprocess(P);
    const per = P * P * 3;
    const normalised = Array.from({ length: ds.nTrain }, (_, k) =>
      Float32Array.from(ds.trainPixels.subarray(k * per, (k + 1) * per), (v, j) => (v / 255 - mean[j % 3]!) / std[j % 3]!),
    );
    const whichImage = (x: Float32Array): number[] =>
      normalised.map((ref, k) => ({ k, d: ref.reduce((m, v, j) => Math.max(m, Math.abs(v - x[j]!)), 0) })).filter((c) => c.d < 1e-4).map((c) => c.k);
    const visit = async (epoch: number): Promise<number[]> => {
      const seen: number[] = [];
      for await (const b of dls.train.batches(epoch)) {
        const x = b.x.dataSync() as Float32Array;
        const y = b.y.dataSync();
        for (let i = 0; i < b.x.shape[0]; i++) {
          const match = whichImage(x.subarray(i * per, (i + 1) * per));
          expect(match).toHaveLength(1);
          expect(y[i]).toBe(ds.trainLabels[match[0]!]);
          seen.push(match[0]!);
        }
        tf.dispose([b.x, b.y]);
      }
      return seen;
    };
    const e0 = await visit(0);
    const e1 = await visit(1);
    expect(ds.nTrain).toBe(20);
    expect([...e0].sort((a, b) => a - b)).toEqual(Array.from({ length: 20 }, (_, i) => i));
    expect([...e1].sort((a, b) => a - b)).toEqual(Array.from({ length: 20 }, (_, i) => i));
    expect(e1).not.toEqual(e0);
  });

  test("training batches: shuffled per epoch, deterministic per (seed, epoch), augmented, normalised", async () => {
    const split = await scanImageFolder(IMAGENETTE_DIR, { limit: 2, validLimit: 1 });
    const ds = await ImageDataset.load(split, { presize: 40 });
    const dls = ds.loaders({ size: 32, bs: 8, minScale: 0.5, augment: true, seed: 7 });
    expect(dls.train.nBatches).toBe(2); // 20 images, bs 8, last partial batch dropped
    const epochLabels = async (epoch: number): Promise<{ labels: number[]; x: number[] }> => {
      const labels: number[] = [];
      let x: number[] = [];
      for await (const b of dls.train.batches(epoch)) {
        expect(b.x.shape).toEqual([8, 32, 32, 3]);
        labels.push(...b.y.dataSync());
        if (x.length === 0) x = Array.from(b.x.dataSync());
        tf.dispose([b.x, b.y]);
      }
      return { labels, x };
    };
    const e0 = await epochLabels(0);
    const e0again = await epochLabels(0);
    const e1 = await epochLabels(1);
    expect(e0again.labels).toEqual(e0.labels);
    expect(e0again.x).toEqual(e0.x);
    expect(e1.labels).not.toEqual(e0.labels);
    // Normalised ImageNet-style: roughly zero-centred, within the range of (0..1 - mean) / std.
    const mean = e0.x.reduce((a, v) => a + v, 0) / e0.x.length;
    expect(Math.abs(mean)).toBeLessThan(1);
    expect(Math.min(...e0.x)).toBeGreaterThanOrEqual(-2.2);
    expect(Math.max(...e0.x)).toBeLessThanOrEqual(2.7);
  });
});

if (!hasImagenette) test.skip(needs("imagenette"), () => {});
