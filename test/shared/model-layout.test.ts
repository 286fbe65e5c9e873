import { describe, expect, test } from "vitest";
import { fileKey, isValidModelName, manifestKey, MODEL_NAME_RULE, modelNameOfPrefix, pointerBody, pointerKey, validateManifest, versionPrefix } from "@resnet-edge/shared";
import { tinyModelArtifact } from "../../trainer/src/export/tiny-artifact.ts";

describe("the R2 model layout (publisher <-> worker contract)", () => {
  test("keys: models/<name>/active.json, models/<name>/<version>/{manifest.json,<file>}", () => {
    expect(pointerKey("resnet18-imagenette")).toBe("models/resnet18-imagenette/active.json");
    expect(versionPrefix("m", "v2")).toBe("models/m/v2/");
    expect(manifestKey("m", "v2")).toBe("models/m/v2/manifest.json");
    expect(fileKey("m", "v2", "model.int8.onnx")).toBe("models/m/v2/model.int8.onnx");
    expect(JSON.parse(pointerBody("v2"))).toEqual({ version: "v2" });
  });

  test("one name rule: the store's listing and the manifest's validation agree", () => {
    for (const ok of ["a", "resnet18-imagenette", "v1.2_3", "x".repeat(64)]) expect(isValidModelName(ok), ok).toBe(true);
    for (const bad of ["", "Resnet", "-a", ".a", "a/b", "a b", "x".repeat(65), "..", "é"]) expect(isValidModelName(bad), bad).toBe(false);
    expect(modelNameOfPrefix("models/tiny-fcn/")).toBe("tiny-fcn");
    expect(modelNameOfPrefix("models/Bad Name/")).toBeNull();
    expect(modelNameOfPrefix("feedback/x/")).toBeNull();
    const { manifest } = tinyModelArtifact({ name: "ok-name", version: "v1" });
    expect(() => validateManifest({ ...manifest, name: "Bad" })).toThrow(MODEL_NAME_RULE);
    expect(() => validateManifest({ ...manifest, version: "v/1" })).toThrow(MODEL_NAME_RULE);
  });
});
