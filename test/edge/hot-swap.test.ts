// Workerd tier: publishing through R2 while requests are in flight. A new version is picked up
// without a redeploy and without failed requests; a missing or corrupt version never replaces the
// good one; a model with no good version answers 503 with the reason.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { pointerKey } from "@resnet-edge/shared";
import { startWorker, type WorkerHandle } from "../helpers/workerd.ts";
import { makeManifest } from "../../trainer/src/export/manifest.ts";
import { tinyModelArtifact, type ModelArtifact } from "../../trainer/src/export/tiny-artifact.ts";
import { makeJpeg } from "./helpers/images.ts";
import { activate, publish, uploadVersion, type WritableBucket } from "./helpers/publish.ts";
import { centered, logitsFromScores, maxAbsDiff, referenceFor } from "./helpers/reference.ts";
import { wranglerVars } from "./helpers/wrangler-vars.ts";

const vars: Record<string, string> = { ...wranglerVars(), MODEL_POLL_SECONDS: "0", DEFAULT_MODEL: "tiny-fcn" };
const maxPixels = Number(vars.MAX_PIXELS_JPEG_BASELINE);
const version = (v: string, seed: number) => tinyModelArtifact({ name: "tiny-fcn", version: v, seed });

let w: WorkerHandle;
let bucket: WritableBucket;
let image: Uint8Array;
const expected = new Map<string, number[]>(); // version -> centered reference logits for `image`

beforeAll(async () => {
  w = await startWorker({ config: "wrangler.toml", r2Buckets: ["MODELS"], bindings: vars });
  bucket = (await w.mf.getR2Bucket("MODELS")) as unknown as WritableBucket;
  image = await makeJpeg(150, 110, 5);
});
afterAll(() => w?.dispose());

async function classify(model = "tiny-fcn"): Promise<{ status: number; body: any }> {
  const res = await w.fetch(`/v1/classify?top_k=10&model=${model}`, { method: "POST", body: image as BodyInit, headers: { "content-type": "image/jpeg" } });
  return { status: res.status, body: await res.json() };
}

async function readyz(): Promise<{ status: number; body: any }> {
  const res = await w.fetch("/readyz");
  return { status: res.status, body: await res.json() };
}

async function expectedFor(a: ModelArtifact): Promise<number[]> {
  const ref = await referenceFor(a.onnx, a.manifest, image, "default", maxPixels);
  return centered(ref.logits);
}

/** A successful response must carry exactly its version's logits. */
function checkAnswer(r: { status: number; body: any }): string {
  expect(r.status, JSON.stringify(r.body)).toBe(200);
  const v = r.body.model.version as string;
  const want = expected.get(v);
  expect(want, `unexpected version ${v}`).toBeDefined();
  expect(maxAbsDiff(logitsFromScores(r.body.predictions, version(v, 1).manifest), want!)).toBeLessThan(1e-4);
  return v;
}

/** Poll until `done` or the deadline; the worker loads new versions in the background. */
async function until<T>(probe: () => Promise<T>, done: (x: T) => boolean, ms = 20_000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const x = await probe();
    if (done(x) || Date.now() > deadline) return x;
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe("hot swap", () => {
  const v1 = version("v1", 1);
  const v2 = version("v2", 2);

  it("serves v1, then v2 after publishing, with no failed or mixed-up requests in between", async () => {
    expected.set("v1", await expectedFor(v1));
    expected.set("v2", await expectedFor(v2));
    expect(maxAbsDiff(expected.get("v1")!, expected.get("v2")!)).toBeGreaterThan(1e-2); // versions are distinguishable
    await publish(bucket, v1);
    expect(checkAnswer(await classify())).toBe("v1");

    const seen: string[][] = [[], [], [], []];
    let published = false;
    let answered!: () => void;
    const allAnswered = new Promise<void>((r) => (answered = r));
    const loops = seen.map(async (log) => {
      const deadline = Date.now() + 30_000;
      while (Date.now() < deadline) {
        log.push(checkAnswer(await classify()));
        if (seen.every((l) => l.length > 0)) answered();
        if (published && log.filter((v) => v === "v2").length >= 3) return;
      }
    });
    await allAnswered; // every client is in its loop and has been answered by v1
    await publish(bucket, v2);
    published = true;
    await Promise.all(loops);

    for (const log of seen) {
      expect(log.at(-1)).toBe("v2");
      // Once a client sees v2 it never goes back to v1.
      expect(log.slice(log.indexOf("v2")).every((v) => v === "v2")).toBe(true);
    }
    expect(seen.flat().filter((v) => v === "v1").length).toBeGreaterThan(0);
    const ready = await readyz();
    expect(ready.body.model.version).toBe("v2");
    expect(ready.body.lastError).toBeNull();
  });

  it("a corrupt version (sha256 mismatch) never replaces the good one; readyz reports it", async () => {
    const v3 = version("v3", 3);
    const corrupt = v3.onnx.slice();
    corrupt[corrupt.length - 5]! ^= 0xff;
    await uploadVersion(bucket, v3, { onnx: corrupt });
    await activate(bucket, "tiny-fcn", "v3");
    const during = await Promise.all(Array.from({ length: 6 }, () => classify()));
    for (const r of during) expect(checkAnswer(r)).toBe("v2");
    const ready = await until(readyz, (r) => r.body.lastError !== null);
    expect(ready.status).toBe(200);
    expect(ready.body.model.version).toBe("v2");
    expect(ready.body.lastError).toMatchObject({ version: "v3", code: "checksum_mismatch" });
    expect(ready.body.lastError.message).toMatch(/sha256/);
    expect(checkAnswer(await classify())).toBe("v2");
    const status = (await (await w.fetch("/v1/models/tiny-fcn")).json()) as any;
    expect(status.status.serving.version).toBe("v2");

    // Fixing the object and re-writing the pointer retries the same version.
    expected.set("v3", await expectedFor(v3));
    await publish(bucket, v3);
    const fixed = await until(classify, (r) => r.body.model?.version === "v3");
    expect(checkAnswer(fixed)).toBe("v3");
  });

  it("a pointer to a version that was never uploaded keeps the old one serving", async () => {
    await activate(bucket, "tiny-fcn", "v9");
    const ready = await until(readyz, (r) => r.body.lastError?.version === "v9");
    expect(ready.body.lastError).toMatchObject({ version: "v9", code: "manifest_missing" });
    expect(checkAnswer(await classify())).toBe("v3");
  });
});

describe("models with no good version", () => {
  it("503 with the reason: checksum mismatch, not an ONNX model, bad pointer", async () => {
    const broken = tinyModelArtifact({ name: "broken", version: "v1", seed: 7 });
    await uploadVersion(bucket, broken, { onnx: broken.onnx.slice(0, -10).slice() });
    await activate(bucket, "broken", "v1");
    const r1 = await classify("broken");
    expect(r1.status).toBe(503);
    expect(r1.body.error.code).toBe("checksum_mismatch");
    expect(r1.body.error.message).toMatch(/models\/broken\/v1\/model\.onnx/);

    // Right size and sha256, but not a model onnxruntime can load.
    const junk = new TextEncoder().encode("this is not an onnx model".repeat(10));
    const manifest = makeManifest({ name: "junk", version: "v1", onnx: junk, architecture: broken.manifest.architecture, preprocess: broken.manifest.preprocess });
    await uploadVersion(bucket, { onnx: junk, manifest });
    await activate(bucket, "junk", "v1");
    const r2 = await classify("junk");
    expect(r2.status).toBe(503);
    expect(r2.body.error.code).toBe("session_failed");

    await bucket.put(pointerKey("badptr"), "v1");
    const r3 = await classify("badptr");
    expect(r3.status).toBe(503);
    expect(r3.body.error.code).toBe("pointer_invalid");

    // Other models are unaffected.
    await publish(bucket, tinyModelArtifact({ name: "good", version: "v1", seed: 8 }));
    const ok = await classify("good");
    expect(ok.status).toBe(200);
    expect(ok.body.model).toEqual({ name: "good", version: "v1" });
  });
});
