// Issue 11 item 1: tensor sides rounded to the net's total stride; the manifest's `stride` field; the one
// serving config the worker, calibrate and eval share.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  ConfigError,
  DEFAULT_PREPROCESS,
  IMAGENETTE_CLASSES,
  LEGACY_MIN_EDGE,
  alignSide,
  nativeEdgeWithin,
  servingConfig,
  targetSize,
  validateManifest,
  validatePreprocessConfig,
  type ModelManifest,
  type PreprocessConfig,
} from "../../shared/src/index.ts";

const MAX_TENSOR_PIXELS = 240_000; // a tensor cap for these checks (the worker's default was 240000; it is 61440 now, edge/src/limits.ts)

const legacyPreprocess: PreprocessConfig = { ...DEFAULT_PREPROCESS, resize: { mode: "shortest-edge", size: 64 }, crop: [64, 64] };
const alignedPreprocess: PreprocessConfig = { ...DEFAULT_PREPROCESS, resize: { mode: "shortest-edge", size: 64, align: 32 }, crop: null };

const manifest = (extra: Partial<ModelManifest> = {}): ModelManifest => ({
  schemaVersion: 1,
  name: "rn18",
  version: "v1",
  architecture: { name: "resnet18" },
  model: { file: "model.int8.onnx", sha256: "b".repeat(64), bytes: 11_000_000 },
  inputs: [{ name: "input", dims: ["N", 3, "H", "W"], dtype: "float32" }],
  outputs: [{ name: "logits", dims: ["N", 10], dtype: "float32" }],
  preprocess: alignedPreprocess,
  stride: 32,
  classes: IMAGENETTE_CLASSES.map((c) => ({ ...c })),
  ...extra,
});

describe("alignSide and targetSize with resize.align", () => {
  it.each([
    // [side, stride, aligned]
    [1, 32, 32], // at least one stride
    [15, 32, 32],
    [47, 32, 32],
    [48, 32, 64], // halves round up
    [64, 32, 64],
    [65, 32, 64], // the 65 px input of issue 11 goes back to 64
    [85, 32, 96], // 4:3 at short side 64
    [113, 32, 128],
    [10_000, 32, 10_016], // 312.5 strides: halves round up
  ])("alignSide(%i, %i) = %i", (side, stride, want) => {
    expect(alignSide(side, stride)).toBe(want);
  });

  it.each([
    [97, 203, 64, 64, 128], // odd sizes: 64x134 -> 64x128
    [203, 97, 64, 128, 64],
    [500, 375, 64, 96, 64], // 4:3: 85x64 -> 96x64
    [375, 500, 80, 96, 96], // 3:4 at 80: 80x107 -> 96x96
    [1920, 1080, 64, 128, 64], // 16:9: 114x64 -> 128x64
    [224, 224, 72, 64, 64], // 72 is no multiple of 32: served at 64
  ])("%i x %i at short side %i -> %i x %i", (w, h, s, ew, eh) => {
    expect(targetSize(w, h, { mode: "shortest-edge", size: s, align: 32 })).toEqual({ width: ew, height: eh });
  });

  it("property: both sides are multiples of the stride, at least one stride, within half a stride of the aspect-kept size", () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 6000 }), fc.integer({ min: 1, max: 6000 }), fc.integer({ min: 1, max: 400 }), fc.constantFrom(8, 16, 32), (w, h, s, a) => {
        const plain = targetSize(w, h, { mode: "shortest-edge", size: s });
        const t = targetSize(w, h, { mode: "shortest-edge", size: s, align: a });
        for (const [side, was] of [
          [t.width, plain.width],
          [t.height, plain.height],
        ] as const) {
          expect(side % a).toBe(0);
          expect(side).toBeGreaterThanOrEqual(a);
          expect(Math.abs(side - was)).toBeLessThanOrEqual(Math.max(a / 2, a - was));
        }
      }),
    );
  });

  it("validates align: a positive integer, not with exact, round-trips, absent when not given", () => {
    expect(validatePreprocessConfig(alignedPreprocess)).toEqual(alignedPreprocess);
    expect("align" in validatePreprocessConfig(legacyPreprocess).resize).toBe(false);
    expect(() => validatePreprocessConfig({ ...alignedPreprocess, resize: { mode: "shortest-edge", size: 64, align: 0 } })).toThrow(ConfigError);
    expect(() => validatePreprocessConfig({ ...alignedPreprocess, resize: { mode: "exact", size: 64, align: 32 } })).toThrow(/exact/);
  });
});

describe("manifest stride and calibration", () => {
  it("round-trips stride and the calibration curve through JSON", () => {
    const m = manifest({
      calibration: { images: 100, aspects: [0.75, 1, 4 / 3], points: [{ shortSide: 64, top1: [0.7, 0.75, 0.72], meanTop1: 0.39 }], best: 64, trainingSize: 64 },
    });
    expect(validateManifest(JSON.parse(JSON.stringify(m)))).toEqual(m);
  });

  it("an old manifest (no stride, crop 64x64) stays readable and keeps no stride", () => {
    const { stride: _, ...old } = manifest({ preprocess: legacyPreprocess });
    const v = validateManifest(JSON.parse(JSON.stringify(old)));
    expect(v.stride).toBeUndefined();
    expect(v.preprocess).toEqual(legacyPreprocess);
  });

  it.each([0, -32, 2.5, "32", 4096])("refuses stride %o naming the field", (stride) => {
    expect(() => validateManifest({ ...manifest(), stride })).toThrow(/^stride|stride/);
  });

  it("refuses a calibration row without one accuracy per aspect", () => {
    const bad = { images: 10, aspects: [1, 2], points: [{ shortSide: 64, top1: [0.5], meanTop1: 0.5 }], best: 64, trainingSize: 64 };
    expect(() => validateManifest({ ...manifest(), calibration: bad })).toThrow(/calibration\.points\[0\]\.top1/);
  });
});

describe("servingConfig (what the worker feeds the model)", () => {
  it("default on an aligned manifest is its preprocess as written (the manifest says what is served)", () => {
    const cfg = servingConfig(manifest(), { maxPixels: 2_400_000 });
    expect(cfg).toEqual({ ...alignedPreprocess, maxPixels: 2_400_000 });
    expect(targetSize(500, 375, cfg.resize)).toEqual({ width: 96, height: 64 });
  });

  it("default on a legacy manifest: shortest edge, aspect kept, crop not applied, no rounding (as before)", () => {
    const { stride: _, ...old } = manifest({ preprocess: legacyPreprocess });
    const cfg = servingConfig(old);
    expect(cfg.crop).toBeNull();
    expect(cfg.resize).toEqual({ mode: "shortest-edge", size: 64 });
    expect(targetSize(500, 375, cfg.resize)).toEqual({ width: 85, height: 64 });
  });

  it("default on a legacy manifest scales a tensor over MAX_TENSOR_PIXELS down to fit, aspect kept, but not below 32 px", () => {
    const { stride: _, ...old } = manifest({ preprocess: { ...legacyPreprocess, resize: { mode: "shortest-edge", size: 224 } } });
    // 4:3 at 224 is 299x224 = 66976 > 61440 (the worker's cap): the largest short side that fits is 214 (285x214).
    const cfg = servingConfig(old, { image: { width: 400, height: 300 }, maxTensorPixels: 61_440 });
    expect(cfg.resize).toEqual({ mode: "shortest-edge", size: 214 });
    const t = targetSize(400, 300, cfg.resize);
    expect(t.width * t.height).toBeLessThanOrEqual(61_440);
    expect(targetSize(400, 300, { mode: "shortest-edge", size: 215 }).width * 215).toBeGreaterThan(61_440);
    // Under the cap it is untouched; a 2000x2 strip would need a 7 px short side: it keeps 224 and the worker refuses it.
    expect(servingConfig(old, { image: { width: 224, height: 224 }, maxTensorPixels: 61_440 }).resize.size).toBe(224);
    const strip = servingConfig(old, { image: { width: 2000, height: 2 }, maxTensorPixels: 61_440 });
    expect(strip.resize.size).toBe(224);
    expect(LEGACY_MIN_EDGE).toBe(32);
  });

  it("stride alone (preprocess without align) still rounds, at default and native", () => {
    const m = manifest({ preprocess: { ...alignedPreprocess, resize: { mode: "shortest-edge", size: 64 } } });
    expect(targetSize(500, 375, servingConfig(m).resize)).toEqual({ width: 96, height: 64 });
    expect(targetSize(97, 203, servingConfig(m, { size: "native", image: { width: 97, height: 203 } }).resize)).toEqual({ width: 96, height: 192 });
  });

  it("a fixed-size model (exact resize) is served as written, without rounding", () => {
    const m = manifest({ preprocess: { ...DEFAULT_PREPROCESS, resize: { mode: "exact", size: 224 }, crop: null } });
    expect(servingConfig(m).resize).toEqual({ mode: "exact", size: 224 });
  });

  it("shortSide overrides the served short side (calibrate's sweep) and keeps the rounding", () => {
    const cfg = servingConfig(manifest(), { shortSide: 80 });
    expect(cfg.resize).toEqual({ mode: "shortest-edge", size: 80, align: 32 });
  });

  it("native: scale down first, then round, and the rounded tensor fits MAX_TENSOR_PIXELS", () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 4000 }), fc.integer({ min: 1, max: 4000 }), (w, h) => {
        const cfg = servingConfig(manifest(), { size: "native", image: { width: w, height: h }, maxTensorPixels: MAX_TENSOR_PIXELS });
        const t = targetSize(w, h, cfg.resize);
        expect(t.width % 32).toBe(0);
        expect(t.height % 32).toBe(0);
        // Only images too extreme to fit at any scale are over the cap; the worker refuses them (413).
        if (t.width * t.height > MAX_TENSOR_PIXELS) expect(Math.max(w, h) / Math.min(w, h)).toBeGreaterThan(MAX_TENSOR_PIXELS / 32 / 32 / 2);
      }),
    );
    // 600x400 is exactly 240000 pixels, but rounds up to 608x416; it is scaled to fit.
    const cfg = servingConfig(manifest(), { size: "native", image: { width: 600, height: 400 }, maxTensorPixels: MAX_TENSOR_PIXELS });
    const t = targetSize(600, 400, cfg.resize);
    expect(t.width * t.height).toBeLessThanOrEqual(MAX_TENSOR_PIXELS);
    expect(t).toEqual({ width: 608, height: 384 });
    expect(nativeEdgeWithin(600, 400, MAX_TENSOR_PIXELS, 32)).toBe(399);
  });

  it("1x10000 is bounded or refused: at default 64x640000 and native 32x10016 are both over MAX_TENSOR_PIXELS", () => {
    for (const size of ["default", "native"] as const) {
      const cfg = servingConfig(manifest(), { size, image: { width: 1, height: 10_000 }, maxTensorPixels: MAX_TENSOR_PIXELS });
      const t = targetSize(1, 10_000, cfg.resize);
      expect(t.width * t.height, size).toBeGreaterThan(MAX_TENSOR_PIXELS); // the worker's header check answers 413
    }
    // A strip that fits once scaled: 100x2000 native goes to 32x... within the cap.
    const cfg = servingConfig(manifest(), { size: "native", image: { width: 100, height: 2000 }, maxTensorPixels: MAX_TENSOR_PIXELS });
    const t = targetSize(100, 2000, cfg.resize);
    expect(t.width * t.height).toBeLessThanOrEqual(MAX_TENSOR_PIXELS);
  });
});

describe("per-aspect serving sizes (resize.sizeByAspect, written by trainer calibrate)", () => {
  const table = [
    { aspect: 9 / 16, size: 88 },
    { aspect: 3 / 4, size: 112 },
    { aspect: 1, size: 112 },
    { aspect: 4 / 3, size: 112 },
    { aspect: 16 / 9, size: 88 },
  ];
  const byAspect = manifest({ preprocess: { ...alignedPreprocess, resize: { mode: "shortest-edge", size: 88, align: 32, sizeByAspect: table } } });

  it("default serves each photo at its nearest aspect's size; without the image size, at resize.size", () => {
    const at = (width: number, height: number) => servingConfig(byAspect, { image: { width, height }, maxTensorPixels: 61_440 }).resize;
    expect(at(224, 224)).toEqual({ mode: "shortest-edge", size: 112, align: 32 });
    expect(targetSize(224, 224, at(224, 224))).toEqual({ width: 128, height: 128 });
    expect(at(4032, 3024)).toEqual({ mode: "shortest-edge", size: 112, align: 32 }); // a 4:3 phone photo
    expect(at(1920, 1080)).toEqual({ mode: "shortest-edge", size: 88, align: 32 });
    expect(at(1080, 1920)).toEqual({ mode: "shortest-edge", size: 88, align: 32 });
    // Between two entries: the nearer on a log scale (3:2 is nearer 4:3 than 16:9); past the ends: the end's.
    expect(at(300, 200).size).toBe(112);
    expect(at(400, 100).size).toBe(88);
    expect(servingConfig(byAspect).resize).toEqual({ mode: "shortest-edge", size: 88, align: 32 });
    // calibrate's sweep and native ignore the table.
    expect(servingConfig(byAspect, { shortSide: 64, image: { width: 224, height: 224 } }).resize).toEqual({ mode: "shortest-edge", size: 64, align: 32 });
    expect(servingConfig(byAspect, { size: "native", image: { width: 224, height: 224 } }).resize).toEqual({ mode: "none", size: 88, align: 32 });
  });

  it("the tensor cap still applies to the aspect's size: an extreme strip is scaled down to fit, as before", () => {
    const cfg = servingConfig(byAspect, { image: { width: 100, height: 2000 }, maxTensorPixels: 61_440 });
    const t = targetSize(100, 2000, cfg.resize);
    expect(t.width * t.height).toBeLessThanOrEqual(61_440);
    expect(cfg.resize.size).toBeLessThan(88);
  });

  it("validates: ascending aspects within 1/16..16, positive sizes, only on an aligned shortest-edge resize; round-trips", () => {
    const v = (resize: unknown) => validatePreprocessConfig({ ...alignedPreprocess, resize });
    expect(v({ mode: "shortest-edge", size: 88, align: 32, sizeByAspect: table }).resize.sizeByAspect).toEqual(table);
    expect(validateManifest(JSON.parse(JSON.stringify(byAspect))).preprocess.resize.sizeByAspect).toEqual(table);
    expect(() => v({ mode: "shortest-edge", size: 88, align: 32, sizeByAspect: [] })).toThrow(ConfigError);
    expect(() => v({ mode: "shortest-edge", size: 88, align: 32, sizeByAspect: [{ aspect: 1, size: 88 }, { aspect: 1, size: 96 }] })).toThrow(/strictly ascending/);
    expect(() => v({ mode: "shortest-edge", size: 88, align: 32, sizeByAspect: [{ aspect: 40, size: 88 }] })).toThrow(/between 1\/16 and 16/);
    expect(() => v({ mode: "shortest-edge", size: 88, align: 32, sizeByAspect: [{ aspect: 1, size: 0 }] })).toThrow(/positive integer/);
    expect(() => v({ mode: "shortest-edge", size: 88, align: 32, sizeByAspect: [{ aspect: 1, size: 88, extra: 1 }] })).toThrow(/unknown key/);
    expect(() => v({ mode: "shortest-edge", size: 88, sizeByAspect: table })).toThrow(/needs mode "shortest-edge" and align/);
  });
});
