// Issue 11 item 3: multi-size training. Batch shapes around the target size, stride-aligned, within the
// aspect range; the book's fixed size with --no-multi-size; configs saved before the option read as off.
import * as tf from "@tensorflow/tfjs-core";
import { initCodecs } from "@resnet-edge/shared/node";
import { beforeAll, describe, expect, test } from "vitest";
import { initBackend } from "../../trainer/src/backend/init-backend.ts";
import { DEFAULT_CONFIG, resolveConfig, validateTrainConfig } from "../../trainer/src/config.ts";
import { ImageDataset } from "../../trainer/src/data/dataset.ts";
import { scanImageFolder } from "../../trainer/src/data/imagenette.ts";
import { drawBatchShape, MULTI_SIZE_MAX_ASPECT, multiSizeSet } from "../../trainer/src/data/multi-size.ts";
import { makeRng } from "../../trainer/src/data/random.ts";
import { COMMANDS } from "../../trainer/src/commands/index.ts";
import { parseCommandLine } from "../../trainer/src/commands/flags.ts";
import { hasImagenette, IMAGENETTE_DIR, needs } from "../helpers/data.ts";

describe("batch shapes", () => {
  test("the set is the target rounded to the stride, one stride either side; none below two strides", () => {
    expect(multiSizeSet(64, 32)).toEqual([32, 64, 96]);
    expect(multiSizeSet(128, 32)).toEqual([96, 128, 160]);
    expect(multiSizeSet(72, 32)).toEqual([32, 64, 96]);
    expect(multiSizeSet(40, 32)).toEqual([]);
    // --multi-size-min widens the set downwards (rounded to the stride, at least one stride) and never narrows it
    expect(multiSizeSet(128, 32, 64)).toEqual([64, 96, 128, 160]);
    expect(multiSizeSet(128, 32, 56)).toEqual([64, 96, 128, 160]);
    expect(multiSizeSet(128, 32, 8)).toEqual([32, 64, 96, 128, 160]);
    expect(multiSizeSet(64, 32, 64)).toEqual([32, 64, 96]);
    expect(multiSizeSet(128, 32, null)).toEqual([96, 128, 160]);
  });

  test("an epoch's mean batch area, the compute it costs against the fixed square: 1.32x at 64 px, 1.20x at 128 px", () => {
    for (const [size, ratio] of [[64, 1.32], [128, 1.2]] as const) {
      const rng = makeRng(9);
      let area = 0;
      const n = 40000;
      for (let i = 0; i < n; i++) {
        const [h, w] = drawBatchShape(rng, size, 32);
        area += h * w;
      }
      expect(area / n / (size * size)).toBeCloseTo(ratio, 1);
    }
  });

  test("--multi-size-min 64 in a 128-px stage: every short side 64..160 drawn, about uniformly, at 0.97x the square's area", () => {
    const rng = makeRng(5);
    const count = new Map<number, number>();
    let area = 0;
    const n = 40000;
    for (let i = 0; i < n; i++) {
      const [h, w] = drawBatchShape(rng, 128, 32, { minSize: 64 });
      const short = Math.min(h, w);
      count.set(short, (count.get(short) ?? 0) + 1);
      area += h * w;
    }
    expect([...count.keys()].sort((a, b) => a - b)).toEqual([64, 96, 128, 160]);
    for (const c of count.values()) expect(c / n).toBeGreaterThan(0.23);
    expect(area / n / (128 * 128)).toBeCloseTo(0.97, 1);
  });

  test("draws stride-aligned shapes within the aspect range, several of them, deterministic per seed", () => {
    const rng = makeRng(1, 2);
    const seen = new Set<string>();
    for (let i = 0; i < 400; i++) {
      const [h, w] = drawBatchShape(rng, 64, 32);
      expect(h % 32).toBe(0);
      expect(w % 32).toBe(0);
      const short = Math.min(h, w);
      expect([32, 64, 96]).toContain(short);
      // the long side is the short side times at most 4/3, rounded to the nearest stride
      expect(Math.max(h, w)).toBeLessThanOrEqual(Math.round((short * MULTI_SIZE_MAX_ASPECT) / 32) * 32);
      seen.add(`${h}x${w}`);
    }
    expect(seen.size).toBeGreaterThanOrEqual(5); // 32x32, 64x64, 64x96, 96x64, 96x96, 96x128, 128x96
    const again = makeRng(1, 2);
    const first = makeRng(1, 2);
    expect(Array.from({ length: 20 }, () => drawBatchShape(again, 64, 32))).toEqual(Array.from({ length: 20 }, () => drawBatchShape(first, 64, 32)));
    expect(drawBatchShape(makeRng(3), 40, 32)).toEqual([40, 40]);
  });
});

describe("config", () => {
  test("on by default for new runs; --no-multi-size gives the book's fixed size; an old saved config reads as off", () => {
    expect(DEFAULT_CONFIG.multiSize).toBe(true);
    expect(resolveConfig({}).multiSize).toBe(true);
    expect(resolveConfig({ overrides: parseCommandLine(COMMANDS.run!, ["--no-multi-size"]).overrides }).multiSize).toBe(false);
    expect(resolveConfig({ overrides: parseCommandLine(COMMANDS.run!, ["--multi-size"]).overrides }).multiSize).toBe(true);
    const { multiSize: _, ...old } = resolveConfig({});
    expect(validateTrainConfig(old).multiSize).toBe(false);
  });
});

describe.skipIf(!hasImagenette)(`training batches with multi-size ${hasImagenette ? "" : needs("imagenette")}`, () => {
  beforeAll(async () => {
    await initCodecs();
    await initBackend("cpu");
  });

  test("batches come at several stride-aligned shapes; the same images and labels as a fixed-size run", { timeout: 120_000 }, async () => {
    const split = await scanImageFolder(IMAGENETTE_DIR, { limit: 4, validLimit: 1 });
    const ds = await ImageDataset.load(split, { presize: 80 });
    const base = { size: 64, bs: 4, minScale: 0.5, augment: true, seed: 3, stride: 32 };
    const run = async (multiSize: boolean) => {
      const shapes: number[][] = [];
      const labels: number[] = [];
      for await (const b of ds.loaders({ ...base, multiSize }).train.batches(0)) {
        shapes.push(b.x.shape.slice(1, 3));
        labels.push(...b.y.dataSync());
        expect(b.x.shape[3]).toBe(3);
        expect(b.x.dataSync().every(Number.isFinite)).toBe(true);
        tf.dispose([b.x, b.y]);
      }
      return { shapes, labels };
    };
    const multi = await run(true);
    const fixed = await run(false);
    expect(fixed.shapes.every(([h, w]) => h === 64 && w === 64)).toBe(true);
    expect(multi.labels).toEqual(fixed.labels);
    expect(multi.shapes.every(([h, w]) => h! % 32 === 0 && w! % 32 === 0)).toBe(true);
    expect(new Set(multi.shapes.map((s) => s.join("x"))).size).toBeGreaterThanOrEqual(3);
  });
});

describe("totalStride", () => {
  test("32 for every model of the ch. 14 table, from its stem and stages", async () => {
    const { ARCHITECTURES, totalStride } = await import("../../trainer/src/model/arch-table.ts");
    for (const def of Object.values(ARCHITECTURES)) expect(totalStride(def)).toBe(32);
    expect(totalStride({ stem: [], block: "conv", widths: [8, 16, 32], layers: [], expansion: 1, firstStride: 2 })).toBe(8);
  });
});
