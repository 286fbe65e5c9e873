// Issue 11 item 2: `trainer calibrate` on the shipped model and a small real val slice. Its accuracy at a
// size must be the worker's (shared preprocess with servingConfig, then onnxruntime), and it must write
// the chosen size and the curve into the manifest without touching the model file.
import { copyFile, mkdtemp, readFile, rm, symlink } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import * as ort from "onnxruntime-node";
import { DEFAULT_PREPROCESS, preprocess, servingConfig, targetSize, validateManifest, type SizeCalibration } from "@resnet-edge/shared";
import { initCodecs } from "@resnet-edge/shared/node";
import { aspectServedTop1, chooseAspectSizes, chooseServingSize, runCalibrate, withCalibration } from "../../trainer/src/calibrate/run-calibrate.ts";
import { aspectView, parseAspect, ServedViews } from "../../trainer/src/calibrate/size-curve.ts";
import { asciiSizeChart } from "../../trainer/src/calibrate/size-plot.ts";
import { scanImageFolder } from "../../trainer/src/data/imagenette.ts";
import { hasImagenette, IMAGENETTE_DIR, needs, repoRoot } from "../helpers/data.ts";

const curve = (means: [number, number][], trainingSize: number): SizeCalibration => ({
  images: 10,
  aspects: [1],
  points: means.map(([shortSide, m]) => ({ shortSide, top1: [m], meanTop1: m })),
  best: means.reduce((b, p) => (p[1] > b[1] ? p : b))[0],
  trainingSize,
});

describe("calibrate helpers", () => {
  it("parses aspects and refuses nonsense", () => {
    expect(parseAspect("16:9")).toBeCloseTo(16 / 9, 12);
    expect(parseAspect("1.5")).toBe(1.5);
    expect(() => parseAspect("wide")).toThrow(/16:9/);
    expect(() => parseAspect("0:1")).toThrow();
  });

  it("aspect views are the largest centre crop of that ratio", () => {
    const img = { data: new Uint8Array(224 * 224 * 3), width: 224, height: 224, channels: 3 as const };
    expect([aspectView(img, 16 / 9).width, aspectView(img, 16 / 9).height]).toEqual([224, 126]);
    expect([aspectView(img, 3 / 4).width, aspectView(img, 3 / 4).height]).toEqual([168, 224]);
    expect(aspectView(img, 1)).toBe(img);
  });

  it("serves the best size only when it is at least as accurate as the training size", () => {
    expect(chooseServingSize(curve([[64, 0.7], [96, 0.75]], 64))).toBe(96);
    expect(chooseServingSize(curve([[64, 0.7], [96, 0.7]], 64))).toBe(64);
    expect(asciiSizeChart(curve([[64, 0.7], [96, 0.75]], 64))).toMatch(/short side/);
  });

  it("per-aspect sizes: each aspect's own best short side (the smaller on a tie), ascending by aspect", () => {
    const c: SizeCalibration = {
      images: 10,
      aspects: [16 / 9, 1, 9 / 16],
      points: [
        { shortSide: 88, top1: [0.8, 0.7, 0.75], meanTop1: 0.75 },
        { shortSide: 112, top1: [0.7, 0.8, 0.75], meanTop1: 0.75 },
      ],
      best: 88,
      trainingSize: 112,
    };
    const aligned = { preprocess: { ...DEFAULT_PREPROCESS, resize: { mode: "shortest-edge" as const, size: 88, align: 32 } }, stride: 32 };
    const table = chooseAspectSizes(c, aligned)!;
    expect(table).toEqual([{ aspect: 9 / 16, size: 88 }, { aspect: 1, size: 112 }, { aspect: 16 / 9, size: 88 }]);
    expect(aspectServedTop1(c, table).mean).toBeCloseTo((0.8 + 0.8 + 0.75) / 3, 12);
    // One aspect, or a manifest that rounds to no stride: no table.
    expect(chooseAspectSizes({ ...c, aspects: [1], points: c.points.map((p) => ({ ...p, top1: [p.top1[1]!] })) }, aligned)).toBeNull();
    expect(chooseAspectSizes(c, { preprocess: { ...DEFAULT_PREPROCESS, resize: { mode: "shortest-edge", size: 88 } } })).toBeNull();
  });
});

describe.skipIf(!hasImagenette)(`trainer calibrate on the shipped model ${hasImagenette ? "" : needs("imagenette")}`, () => {
  let dir: string;
  const shipped = join(repoRoot, "models/resnet18-imagenette");

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "calibrate-"));
    await copyFile(join(shipped, "manifest.json"), join(dir, "manifest.json"));
    await symlink(join(shipped, "model.int8.onnx"), join(dir, "model.int8.onnx"));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it("measures what the worker serves, writes the chosen size and the curve, keeps the model file", { timeout: 300_000 }, async () => {
    const lines: string[] = [];
    const io = { log: () => {}, write: (l: string) => lines.push(l) };
    const before = validateManifest(JSON.parse(await readFile(join(dir, "manifest.json"), "utf8")));
    const res = await runCalibrate({ model: dir, data: IMAGENETTE_DIR, perClass: 2, shortSides: [48, 64, 96], aspects: [1, 16 / 9], io });
    expect(res.calibration.images).toBe(20);
    expect(res.calibration.points.map((p) => p.shortSide)).toEqual([48, 64, 96]);
    expect(lines.join("\n")).toMatch(/short\s+1:1\s+16:9/);
    const png = await readFile(res.plot);
    expect([...png.subarray(0, 4)]).toEqual([0x89, 0x50, 0x4e, 0x47]);

    const after = validateManifest(JSON.parse(await readFile(join(dir, "manifest.json"), "utf8")));
    expect(after.calibration?.points).toEqual(res.calibration.points);
    expect(after.preprocess.resize.size).toBe(res.after);
    expect(after.model).toEqual(before.model);
    expect(after.stride).toBe(32);
    // Each aspect's best cell is written as its serving size, and the worker's config follows it.
    expect(after.preprocess.resize.sizeByAspect).toEqual(res.sizeByAspect);
    for (const [j, aspect] of res.calibration.aspects.entries()) {
      const best = Math.max(...res.calibration.points.map((p) => p.top1[j]!));
      const entry = res.sizeByAspect!.find((e) => e.aspect === aspect)!;
      expect(res.calibration.points.find((p) => p.shortSide === entry.size)!.top1[j]).toBe(best);
      const photo = aspect === 1 ? { width: 224, height: 224 } : { width: 224, height: 126 };
      expect(servingConfig(after, { image: photo }).resize.size).toBe(entry.size);
    }
    // --one-size drops the table again.
    expect(withCalibration(after, res.calibration, res.after!, null).preprocess.resize.sizeByAspect).toBeUndefined();

    // The 64 px square point, recomputed the worker's way: bytes -> shared preprocess(servingConfig) -> ORT.
    await initCodecs();
    const folder = await scanImageFolder(IMAGENETTE_DIR, { limit: 0, validLimit: 2 });
    const session = await ort.InferenceSession.create(join(dir, "model.int8.onnx"), { intraOpNumThreads: 1 });
    let ok = 0;
    try {
      for (const item of folder.valid) {
        const pre = await preprocess(new Uint8Array(await readFile(item.path)), servingConfig(before, { shortSide: 64 }));
        const out = (await session.run({ input: new ort.Tensor("float32", pre.data, pre.dims) })).logits!.data as Float32Array;
        if (out.indexOf(Math.max(...out)) === item.label) ok++;
      }
    } finally {
      await session.release();
    }
    // calibrate decodes the way the worker does (shrunk on load: 224 -> 112 for a 64-px square target), so
    // the point is exactly the worker's accuracy on these 20 images.
    expect(res.calibration.points[1]!.top1[0]!).toBe(ok / folder.valid.length);
    expect(ok / folder.valid.length).toBeGreaterThan(0.3); // a trained model, not chance (10%)
    // The reduction follows each view's own size, as the worker's follows the photo's: a 224x224 view
    // reaches a 64-px target from 1/2 (112), a 16:9 view (224x126) does not (63 < 64) and is decoded in full.
    const views = await ServedViews.of(new Uint8Array(await readFile(folder.valid[0]!.path)), before.preprocess.maxPixels);
    const at64 = servingConfig(before, { shortSide: 64 });
    expect(views.plan(1, at64)).toEqual({ scale: 2, full: { width: 224, height: 224 } });
    expect(views.plan(16 / 9, at64)).toEqual({ scale: 1, full: { width: 224, height: 126 } });
    expect(views.plan(1, servingConfig(before, { shortSide: 32 })).scale).toBe(4);
  });

  it("photo serving: a photo of short side S goes through the default size's tensor, whatever S", { timeout: 120_000 }, async () => {
    await initCodecs();
    const manifest = validateManifest(JSON.parse(await readFile(join(shipped, "manifest.json"), "utf8")));
    const folder = await scanImageFolder(IMAGENETTE_DIR, { limit: 0, validLimit: 1 });
    const views = await ServedViews.of(new Uint8Array(await readFile(folder.valid[0]!.path)), manifest.preprocess.maxPixels);
    const cfg = (image: { width: number; height: number }) => servingConfig(manifest, { image });
    const tensorOf = (width: number, height: number) => targetSize(width, height, cfg({ width, height }).resize);
    const sq = tensorOf(224, 224);
    const small = views.photoTensor(1, 56, cfg, { layout: "NCHW" });
    const large = views.photoTensor(1, 128, cfg, { layout: "NCHW" });
    expect(small.dims).toEqual([1, 3, sq.height, sq.width]);
    expect(sq.width % 32).toBe(0);
    expect(large.dims).toEqual(small.dims);
    // The small photo has lost detail the large one keeps: the same view, different pixels.
    let diff = 0;
    for (let i = 0; i < small.data.length; i++) diff += Math.abs(small.data[i]! - large.data[i]!);
    expect(diff / small.data.length).toBeGreaterThan(0.01);
    // A 16:9 photo keeps its aspect at the default short side, both sides on the stride.
    const wide = tensorOf(224, 126);
    expect(views.photoTensor(16 / 9, 56, cfg, { layout: "NCHW" }).dims).toEqual([1, 3, wide.height, wide.width]);
    expect(wide.width).toBeGreaterThan(wide.height);
  });
});
