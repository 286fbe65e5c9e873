// No manifest names the machine it was trained on (issue 16.8): the trainer writes last segments only,
// and the shipped model's manifest has none left.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { isLocalPath, stripLocalPaths } from "@resnet-edge/shared";
import { describe, expect, it } from "vitest";
import { makeManifest } from "../../trainer/src/export/manifest.ts";
import { repoRoot } from "../helpers/data.ts";

/** Every string in a JSON value, at any depth. */
function strings(x: unknown): string[] {
  if (typeof x === "string") return [x];
  if (Array.isArray(x)) return x.flatMap(strings);
  if (x !== null && typeof x === "object") return Object.values(x).flatMap(strings);
  return [];
}

describe("local paths in manifests", () => {
  it("recognises absolute, home, Windows and ./ ../ paths, not names, versions or URLs", () => {
    for (const p of ["/srv/x", "~/runs", "C:\\data\\x", "\\\\host\\share", "./runs/a", "../shared/data"]) expect(isLocalPath(p), p).toBe(true);
    for (const p of ["imagenette", "ft64/checkpoint.bin", "2026-11-29b", "https://example.com/a", "resnet18", ""]) expect(isLocalPath(p), p).toBe(false);
  });

  it("keeps the last segment, at any depth, and leaves everything else alone", () => {
    const training = { checkpoint: "/root/rn/ft64/checkpoint.bin", epochs: [{ epoch: 0, seconds: 1.5 }], config: { data: "/srv/team/data/imagenette/", out: "../rn/ft64", size: 64, stages: [], limit: null, augment: true } };
    expect(stripLocalPaths(training)).toEqual({ checkpoint: "checkpoint.bin", epochs: [{ epoch: 0, seconds: 1.5 }], config: { data: "imagenette", out: "ft64", size: 64, stages: [], limit: null, augment: true } });
  });

  it("makeManifest strips them from the training summary", () => {
    const m = makeManifest({
      name: "x",
      version: "v1",
      architecture: { name: "resnet18" } as never,
      onnx: new Uint8Array([1, 2, 3]),
      training: { checkpoint: "/tmp/run/checkpoint.bin", config: { data: "/home/me/imagenette", cacheDir: "/root/.cache/resnet-edge" } },
    });
    expect(strings(m).filter(isLocalPath)).toEqual([]);
    expect(m.training).toEqual({ checkpoint: "checkpoint.bin", config: { data: "imagenette", cacheDir: "resnet-edge" } });
  });

  it("the shipped models carry none", () => {
    for (const name of ["resnet18-imagenette"]) {
      const manifest = JSON.parse(readFileSync(join(repoRoot, "models", name, "manifest.json"), "utf8"));
      expect(strings(manifest).filter(isLocalPath), name).toEqual([]);
    }
  });
});
