// The whole feedback loop, small enough for CI: train a tiny fcn on a slice of real Imagenette, export
// and publish it to the R2 of the real worker (workerd via Miniflare), classify, POST feedback including
// a new class, pull the feedback, fine-tune, export and publish version 2 while clients keep
// classifying: every request succeeds and the worker ends up serving v2 with the new class.
import { readFileSync, readdirSync, mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { resolveConfig } from "../../trainer/src/config.ts";
import { exportRun } from "../../trainer/src/export/export-run.ts";
import { pullFeedback } from "../../trainer/src/feedback/pull.ts";
import { workerSource } from "../../trainer/src/feedback/source.ts";
import { runFinetune } from "../../trainer/src/learner/run-finetune.ts";
import { runTraining } from "../../trainer/src/learner/run-training.ts";
import type { RunIO } from "../../trainer/src/learner/setup.ts";
import { publishModel } from "../../trainer/src/publish/publish.ts";
import { bucketTarget, type BucketLike } from "../../trainer/src/publish/r2-target.ts";
import { hasImagenette, IMAGENETTE_DIR, needs } from "../helpers/data.ts";
import { startWorker, type WorkerHandle } from "../helpers/workerd.ts";
import { wranglerVars } from "../edge/helpers/wrangler-vars.ts";

const TOKEN = "loop-token";
const NEW_CLASS = "river_fish";
const quiet: RunIO = { log: () => {}, write: () => {} };

const valImages = (wnid: string, n: number): Uint8Array[] =>
  readdirSync(join(IMAGENETTE_DIR, "val", wnid))
    .sort()
    .slice(-n) // the last ones: the training runs below only validate on the first few per class
    .map((f) => new Uint8Array(readFileSync(join(IMAGENETTE_DIR, "val", wnid, f))));

describe.skipIf(!hasImagenette)(`train -> export -> publish -> classify -> feedback -> pull -> finetune -> publish v2 ${hasImagenette ? "" : needs("imagenette")}`, () => {
  let w: WorkerHandle | undefined;
  afterAll(() => w?.dispose());

  it("serves version 2 with the new class, and no request fails during the swap", { timeout: 240_000 }, async () => {
    const t0 = performance.now();
    const lap = (what: string) => console.log(`loop: ${what} at ${((performance.now() - t0) / 1000).toFixed(1)} s`);
    const dir = mkdtempSync(join(tmpdir(), "loop-"));
    const cacheDir = join(dir, "cache");

    // 1. Train briefly.
    const config = resolveConfig({
      preset: "fcn",
      overrides: { data: IMAGENETTE_DIR, size: 32, presize: 40, limit: 12, validLimit: 3, epochs: 2, lr: 1e-2, bs: 24, backend: "wasm", out: join(dir, "run1"), cacheDir },
    });
    const trained = await runTraining(config, { io: quiet, progress: false });
    expect(trained.records).toHaveLength(2);
    lap("trained");

    // 2. Export, publish to the worker's R2, classify.
    const v1 = await exportRun({ checkpoint: join(dir, "run1"), out: join(dir, "model-v1"), name: "loop", version: "v1" });
    expect(v1.manifest.classes).toHaveLength(10);
    w = await startWorker({
      config: "wrangler.toml",
      r2Buckets: ["MODELS"],
      bindings: { ...wranglerVars(), DEFAULT_MODEL: "loop", MODEL_POLL_SECONDS: "0", FEEDBACK_TOKEN: TOKEN },
    });
    const worker = w;
    const target = bucketTarget((await worker.mf.getR2Bucket("MODELS")) as unknown as BucketLike, "miniflare r2");
    await publishModel(target, { modelDir: join(dir, "model-v1") });
    const probe = valImages("n03888257", 1)[0]!;
    const classify = async () => {
      const res = await worker.fetch("/v1/classify?top_k=3", { method: "POST", body: probe as BodyInit, headers: { "content-type": "image/jpeg" } });
      return { status: res.status, body: (await res.json()) as { model?: { version: string }; predictions?: { wnid: string }[]; error?: unknown } };
    };
    const first = await classify();
    expect(first.status, JSON.stringify(first.body)).toBe(200);
    expect(first.body.model?.version).toBe("v1");
    lap("v1 published and serving");

    // 3. Feedback: tench photos are really a new class; one parachute confirmed; a repeat stores nothing.
    const post = (bytes: Uint8Array, label: string) =>
      worker.fetch(`/v1/feedback?label=${label}`, { method: "POST", body: bytes as BodyInit, headers: { authorization: `Bearer ${TOKEN}`, "content-type": "image/jpeg" } });
    const fish = valImages("n01440764", 4);
    for (const img of fish) expect((await post(img, NEW_CLASS)).status).toBe(201);
    expect((await post(probe, "n03888257")).status).toBe(201);
    expect((await post(fish[0]!, NEW_CLASS)).status).toBe(200);

    // 4. Pull the feedback through the worker, fine-tune with it, export v2.
    const fbDir = join(dir, "feedback");
    const pulled = await pullFeedback(workerSource({ url: "http://worker.test", token: TOKEN, fetch: (u, i) => worker.fetch(new URL(u).pathname + new URL(u).search, i) }), fbDir);
    expect(pulled.classes).toEqual({ [NEW_CLASS]: 4, n03888257: 1 });
    const tuned = await runFinetune({
      from: join(dir, "run1"),
      feedback: fbDir,
      // Long enough to learn the new class from its 4 images (asserted at the end), still seconds at 32 px;
      // 4 images per old class, so the new one is not outnumbered.
      freezeEpochs: 2,
      overrides: { data: IMAGENETTE_DIR, out: join(dir, "run2"), epochs: 6, lr: 1e-2, limit: 4, validLimit: 3, backend: "wasm", cacheDir },
      io: quiet,
      progress: false,
    });
    expect(tuned.added).toEqual([NEW_CLASS]);
    const v2 = await exportRun({ checkpoint: join(dir, "run2"), out: join(dir, "model-v2"), name: "loop", version: "v2" });
    expect(v2.manifest.classes.map((c) => c.wnid)).toEqual([...v1.manifest.classes.map((c) => c.wnid), NEW_CLASS]);
    lap("fine-tuned and exported v2");

    // 5. Publish v2 while three clients keep classifying; all answers are 200 until v2 serves.
    const statuses: number[] = [];
    const versions = new Set<string>();
    let sawV2 = false;
    let answered!: () => void;
    const threeAnswered = new Promise<void>((r) => (answered = r));
    const client = async () => {
      for (let i = 0; i < 300 && !sawV2; i++) {
        const r = await classify();
        statuses.push(r.status);
        if (statuses.length >= 3) answered();
        if (r.status !== 200) throw new Error(`request failed during the swap: ${r.status} ${JSON.stringify(r.body)}`);
        versions.add(r.body.model!.version);
        if (r.body.model!.version === "v2") sawV2 = true;
      }
    };
    const clients = [client(), client(), client()];
    await threeAnswered; // the clients are classifying against v1
    await publishModel(target, { modelDir: join(dir, "model-v2") });
    await Promise.all(clients);
    expect(sawV2).toBe(true);
    expect(statuses.every((s) => s === 200)).toBe(true);
    expect(versions).toEqual(new Set(["v1", "v2"]));
    lap(`v2 serving after ${statuses.length} requests, all 200`);

    // The served model's class list has the new class, and v2 learned it: on its own images (the feedback
    // it was taught with) the new class scores above chance (1/11), and above what v1's classes give it
    // on another class's image (the parachute probe).
    const meta = await worker.fetch("/v1/models/loop");
    const manifest = (await meta.json()) as { version: string; classes: { wnid: string; label: string }[] };
    expect(manifest.version).toBe("v2");
    expect(manifest.classes).toContainEqual({ wnid: NEW_CLASS, label: NEW_CLASS });
    const scoreOfNew = async (bytes: Uint8Array): Promise<number> => {
      const res = await worker.fetch("/v1/classify?top_k=11", { method: "POST", body: bytes as BodyInit, headers: { "content-type": "image/jpeg" } });
      const ranked = (await res.json()) as { predictions: { wnid: string; score: number }[] };
      expect(ranked.predictions).toHaveLength(11);
      return ranked.predictions.find((p) => p.wnid === NEW_CLASS)?.score ?? 0;
    };
    const onFish: number[] = [];
    for (const img of fish) onFish.push(await scoreOfNew(img));
    const onProbe = await scoreOfNew(probe);
    const mean = onFish.reduce((a, s) => a + s, 0) / onFish.length;
    lap(`${NEW_CLASS} scores ${onFish.map((s) => s.toFixed(3)).join(", ")} on its images (mean ${mean.toFixed(3)}; chance ${(1 / 11).toFixed(3)}), ${onProbe.toFixed(3)} on the parachute`);
    expect(mean).toBeGreaterThan(1 / 11);
    expect(mean).toBeGreaterThan(onProbe);
  });
});
