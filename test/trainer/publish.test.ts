// `trainer publish` through wrangler into a local R2 state folder, served by the real worker in
// workerd (Miniflare persisting to the same folder): publish v1, classify, publish v2, the running
// worker answers with v2 without a restart.
import { mkdtempSync, readFileSync, writeFileSync, mkdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { tinyModelArtifact, type ModelArtifact } from "../../trainer/src/export/tiny-artifact.ts";
import { publishModel, pointerKey } from "../../trainer/src/publish/publish.ts";
import { bucketFromWranglerToml, wranglerR2Target, type ObjectTarget } from "../../trainer/src/publish/r2-target.ts";
import { repoRoot } from "../helpers/data.ts";
import { startWorker, type WorkerHandle } from "../helpers/workerd.ts";
import { makeJpeg } from "../edge/helpers/images.ts";
import { wranglerVars } from "../edge/helpers/wrangler-vars.ts";

function writeArtifact(dir: string, a: ModelArtifact): string {
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, "model.onnx"), a.onnx);
  writeFileSync(join(dir, "manifest.json"), JSON.stringify(a.manifest, null, 2));
  return dir;
}

describe("trainer publish (wrangler, local R2) -> running worker", () => {
  let tmp: string;
  let state: string;
  let target: ObjectTarget;
  let w: WorkerHandle;
  let image: Uint8Array;

  beforeAll(async () => {
    tmp = mkdtempSync(join(tmpdir(), "publish-"));
    state = join(tmp, "state");
    const bucket = await bucketFromWranglerToml(join(repoRoot, "wrangler.toml"));
    target = wranglerR2Target({ bucket, mode: "local", persistTo: state, cwd: repoRoot });
    w = await startWorker({
      config: "wrangler.toml",
      bindings: { ...wranglerVars(), MODEL_POLL_SECONDS: "0", DEFAULT_MODEL: "pub-test" },
      miniflare: { r2Buckets: { MODELS: bucket }, r2Persist: join(state, "v3", "r2") },
    });
    image = await makeJpeg(120, 90, 3);
  });
  afterAll(() => w?.dispose());

  /** Classify until the worker answers with `version` (the old session serves while the new one loads). */
  async function untilVersion(version: string) {
    for (let i = 0; i < 100; i++) {
      const r = await classify();
      expect(r.status).toBe(200); // no failed request during the swap
      if (r.body.model?.version === version) return r;
      await new Promise((ok) => setTimeout(ok, 100));
    }
    throw new Error(`worker never served ${version}`);
  }

  async function classify() {
    const res = await w.fetch("/v1/classify?top_k=3", { method: "POST", body: image as BodyInit, headers: { "content-type": "image/jpeg" } });
    return { status: res.status, body: (await res.json()) as { model?: { name: string; version: string }; predictions?: unknown[]; error?: unknown } };
  }

  it("publishes v1, then v2 is picked up by the running worker; versions are immutable", { timeout: 240_000 }, async () => {
    const v1 = writeArtifact(join(tmp, "v1"), tinyModelArtifact({ name: "pub-test", version: "v1", seed: 1 }));
    const r1 = await publishModel(target, { modelDir: v1 });
    expect(r1).toMatchObject({ name: "pub-test", version: "v1", uploaded: true });
    expect(r1.keys).toContain(pointerKey("pub-test"));
    let res = await classify();
    expect(res.status).toBe(200);
    expect(res.body.model).toEqual({ name: "pub-test", version: "v1" });

    const v2 = writeArtifact(join(tmp, "v2"), tinyModelArtifact({ name: "pub-test", version: "v2", seed: 2 }));
    await publishModel(target, { modelDir: v2 });
    res = await untilVersion("v2");
    expect(res.body.model).toEqual({ name: "pub-test", version: "v2" });

    // Re-publishing the same bytes only flips the pointer back; different bytes under v2 are refused.
    expect((await publishModel(target, { modelDir: v1 })).uploaded).toBe(false);
    await untilVersion("v1");
    const fake = writeArtifact(join(tmp, "fake"), tinyModelArtifact({ name: "pub-test", version: "v2", seed: 3 }));
    await expect(publishModel(target, { modelDir: fake })).rejects.toThrow(/already published with different weights: export with a new --version/);
    expect((await classify()).body.model?.version).toBe("v1");
  });

  it("refuses a folder whose model does not match its manifest, before uploading anything", async () => {
    const dir = writeArtifact(join(tmp, "tampered"), tinyModelArtifact({ name: "pub-test", version: "v9", seed: 1 }));
    const bytes = readFileSync(join(dir, "model.onnx"));
    bytes[bytes.length - 1]! ^= 0xff;
    writeFileSync(join(dir, "model.onnx"), bytes);
    await expect(publishModel(target, { modelDir: dir })).rejects.toThrow(/does not match its manifest .*re-export/);
    expect(await target.get("models/pub-test/v9/manifest.json")).toBeNull();
    await expect(publishModel(target, { modelDir: join(tmp, "nowhere") })).rejects.toThrow(/has no manifest.json/);
  });
});
