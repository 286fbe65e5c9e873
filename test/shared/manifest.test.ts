// The typed contracts shared by trainer and edge: manifest validation, preprocess config validation,
// and the Imagenette vocabulary.
import { describe, expect, it } from "vitest";
import { ConfigError, DEFAULT_PREPROCESS, IMAGENETTE_CLASSES, labelFor, validateManifest, validatePreprocessConfig } from "../../shared/src/index.ts";

const manifest = () => ({
  schemaVersion: 1,
  name: "resnet18-imagenette",
  version: "2026-11-29.1",
  architecture: { name: "resnet18", layers: [2, 2, 2, 2], expansion: 1 },
  model: { file: "model.onnx", sha256: "a".repeat(64), bytes: 44_000_000 },
  inputs: [{ name: "input", dims: ["N", 3, "H", "W"], dtype: "float32" }],
  outputs: [{ name: "logits", dims: ["N", 10], dtype: "float32" }],
  preprocess: DEFAULT_PREPROCESS,
  classes: IMAGENETTE_CLASSES.map((c) => ({ ...c })),
});

const configErrorPath = (f: () => unknown): string => {
  try {
    f();
  } catch (e) {
    expect(e).toBeInstanceOf(ConfigError);
    return (e as ConfigError).path;
  }
  throw new Error("expected a ConfigError");
};

describe("validateManifest", () => {
  it("accepts a complete manifest and round-trips it through JSON", () => {
    const m = manifest();
    expect(validateManifest(JSON.parse(JSON.stringify(m)))).toEqual(m);
  });

  it.each([
    ["schemaVersion", (m: Record<string, unknown>) => (m.schemaVersion = 2)],
    ["name", (m: Record<string, unknown>) => (m.name = "Bad Name")],
    ["model.sha256", (m: Record<string, unknown>) => ((m.model as Record<string, unknown>).sha256 = "xyz")],
    ["outputs[0].dims", (m: Record<string, unknown>) => ((m.outputs as { dims: unknown[] }[])[0]!.dims = ["N", 1000])],
    ["preprocess.mean", (m: Record<string, unknown>) => ((m.preprocess as Record<string, unknown>) = { ...DEFAULT_PREPROCESS, mean: [0.5, 0.5] })],
    ["classes[1].wnid", (m: Record<string, unknown>) => ((m.classes as { wnid: string }[])[1]!.wnid = "n01440764")],
  ])("names the bad field: %s", (path, spoil) => {
    const m = manifest() as unknown as Record<string, unknown>;
    spoil(m);
    expect(configErrorPath(() => validateManifest(m))).toBe(path);
  });
});

describe("validatePreprocessConfig", () => {
  it("accepts the default and fills the default background", () => {
    const { background, ...rest } = DEFAULT_PREPROCESS;
    expect(validatePreprocessConfig(rest)).toEqual({ ...rest, background });
    expect(background).toEqual([255, 255, 255]);
  });

  it.each([
    ["preprocess.resize.mode", { ...DEFAULT_PREPROCESS, resize: { mode: "fit", size: 224 } }],
    ["preprocess.resize.size", { ...DEFAULT_PREPROCESS, resize: { mode: "shortest-edge", size: 0 } }],
    ["preprocess.crop[1]", { ...DEFAULT_PREPROCESS, crop: [224, 22.5] }],
    ["preprocess.std[2]", { ...DEFAULT_PREPROCESS, std: [1, 1, -1] }],
    ["preprocess.maxPixels", { ...DEFAULT_PREPROCESS, maxPixels: "40M" }],
    ["preprocess.background[0]", { ...DEFAULT_PREPROCESS, background: [256, 0, 0] }],
    ["preprocess.interpolation", { ...DEFAULT_PREPROCESS, interpolation: "bicubic" }],
  ])("names the bad field: %s", (path, config) => {
    expect(configErrorPath(() => validatePreprocessConfig(config))).toBe(path);
  });
});

describe("Imagenette vocabulary", () => {
  it("has 10 classes in sorted wnid order with parachute last", () => {
    const wnids = IMAGENETTE_CLASSES.map((c) => c.wnid);
    expect(wnids).toHaveLength(10);
    expect([...wnids].sort()).toEqual(wnids);
    expect(labelFor("n03888257")).toBe("parachute");
    expect(labelFor("n99999999")).toBe("n99999999");
  });
});
