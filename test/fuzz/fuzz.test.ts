// Fuzz suite (issue 16): mutated JPEG, PNG and WebP files (truncations, repeated scans, zero, huge and extreme
// aspect-ratio sizes, bad chunk lengths, random bytes) from the seeds in test/fuzz/seeds/, made by a
// seeded PRNG so the corpus is the same on every run. Every input goes
//   1. through the worker's own admission and shared's decoder in Node (planRequest + preprocess), and
//   2. through the real worker in workerd with the shipped int8 ResNet-18 and the deployed [vars],
// and must get 200 or a 4xx with a stable code, within a per-input CPU budget, with no 5xx; afterwards
// ORT's wasm heap must be inside the documented budget (edge/README.md "Memory budget").
// Seeds are picked up by extension (.jpg, .png, .webp); test/fuzz/make-seeds.ts writes them (WebP with cwebp/img2webp).
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { preprocess, validateManifest } from "@resnet-edge/shared";
import { initCodecs } from "@resnet-edge/shared/node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { childPids, processCpuMs } from "../../bench/edge/cpu-time.ts";
import { planRequest } from "../../edge/src/classify.ts";
import { toApiError } from "../../edge/src/http/errors.ts";
import { parseLimits, PIXEL_LIMIT_VARS } from "../../edge/src/limits.ts";
import { publishModel } from "../../trainer/src/publish/publish.ts";
import { bucketTarget, type BucketLike } from "../../trainer/src/publish/r2-target.ts";
import { repoRoot } from "../helpers/data.ts";
import { startWorker, type WorkerHandle } from "../helpers/workerd.ts";
import { wranglerVars } from "../edge/helpers/wrangler-vars.ts";
import { mutations, prng, type FuzzInput } from "./mutate.ts";

const SEED = 1604; // the PRNG seed: change it to explore, keep it fixed in CI
const RANDOM_PER_SEED = 12;
/** No request may cost more than 2 s of CPU before it is answered (issue 16's goal). */
const CPU_BUDGET_MS = 2000;
/**
 * ORT's wasm heap, worst case measured (edge/README.md "Memory budget"; bench/edge/isolate-memory.ts): the
 * worst sequence (native tensors at MAX_TENSOR_PIXELS, thin strips, 5 drained hot swaps, a second model).
 */
const HEAP_BUDGET_BYTES = 49.4 * 2 ** 20;
/** The 4xx codes an image may get; anything else (or a 5xx) is a finding. */
const STABLE_CODES = new Set(["empty_input", "corrupt_image", "image_too_large", "unsupported_format", "unsupported_variant", "missing_body"]);

const seedDir = join(import.meta.dirname, "seeds");
const corpus: FuzzInput[] = (() => {
  const rng = prng(SEED);
  return readdirSync(seedDir)
    .filter((f) => /\.(jpe?g|png|webp)$/i.test(f))
    .sort()
    .flatMap((f) => mutations(f, new Uint8Array(readFileSync(join(seedDir, f))), rng, RANDOM_PER_SEED));
})();

const vars = wranglerVars();
const NAME = vars.DEFAULT_MODEL!;
const MODEL_DIR = join(repoRoot, "models", NAME);
const manifest = validateManifest(JSON.parse(readFileSync(join(MODEL_DIR, "manifest.json"), "utf8")));
const workerLimits = parseLimits(vars);
const limits = { decodeLimits: workerLimits.decode, limitVars: PIXEL_LIMIT_VARS, maxTensorPixels: workerLimits.maxTensorPixels };
const sizeOf = (i: number) => (i % 2 === 0 ? "default" : "native") as "default" | "native";

it("the corpus is the fixed one: seeds x structured + random mutations", () => {
  expect(corpus.length).toBeGreaterThanOrEqual(100);
  expect(new Set(corpus.map((c) => c.name)).size).toBe(corpus.length);
  expect(corpus.some((c) => c.name.includes("scans x50"))).toBe(true);
  expect(corpus.some((c) => c.name.includes("IHDR 2400000x1"))).toBe(true);
  // WebP: lossy, lossless, alpha and animated seeds, each with size and chunk-length mutations
  for (const seed of ["lossy-24x16.webp", "lossless-24x16.webp", "lossy-alpha-9x31.webp", "lossless-alpha-9x31.webp", "animated-24x16.webp"]) {
    expect(corpus.some((c) => c.name === `${seed}:WebP 16384x16384`)).toBe(true);
    expect(corpus.some((c) => c.name === `${seed}:first chunk length 4294967295`)).toBe(true);
  }
});

describe("shared's decoder and the worker's admission, in Node", () => {
  beforeAll(() => initCodecs());

  it(`every input decodes or gets a 4xx with a stable code, each within ${CPU_BUDGET_MS} ms of CPU`, { timeout: 120_000 }, async () => {
    const findings: string[] = [];
    for (const [i, input] of corpus.entries()) {
      const c0 = process.cpuUsage();
      let outcome: string;
      try {
        const { config } = planRequest(manifest, input.bytes, { size: sizeOf(i), ...limits });
        await preprocess(input.bytes, config, { layout: "NCHW" });
        outcome = "200";
      } catch (e) {
        const api = toApiError(e);
        if (!api) findings.push(`${input.name}: not a typed error (would be a 500): ${(e as Error).stack ?? e}`);
        else if (api.status >= 500 || !STABLE_CODES.has(api.code)) findings.push(`${input.name}: ${api.status} ${api.code}`);
        outcome = `${api?.status}`;
      }
      const cpu = process.cpuUsage(c0);
      const ms = (cpu.user + cpu.system) / 1000;
      if (ms > CPU_BUDGET_MS) findings.push(`${input.name}: ${outcome} after ${ms.toFixed(0)} ms of CPU`);
    }
    expect(findings).toEqual([]);
  });
});

describe("the worker in workerd (shipped model, deployed vars)", () => {
  let w: WorkerHandle;
  let workerd: number[] = [];
  beforeAll(async () => {
    w = await startWorker({ config: "wrangler.toml", r2Buckets: ["MODELS"], bindings: { ...vars, MODEL_POLL_SECONDS: "3600" } });
    await publishModel(bucketTarget((await w.mf.getR2Bucket("MODELS")) as unknown as BucketLike, "miniflare r2"), { modelDir: MODEL_DIR });
    expect((await w.fetch("/readyz")).status).toBe(200);
    workerd = childPids(process.pid, "workerd");
    expect(workerd.length, "the workerd process Miniflare started (its CPU time is the budget)").toBeGreaterThan(0);
  }, 120_000);
  afterAll(() => w?.dispose());

  const cpuMs = () => workerd.reduce((sum, pid) => sum + processCpuMs(pid), 0);

  it(`every input gets 200 or a 4xx with a stable code, within ${CPU_BUDGET_MS} ms of workerd CPU, no 5xx; the heap stays in budget`, { timeout: 300_000 }, async () => {
    const findings: string[] = [];
    const statuses = new Map<number, number>();
    for (const [i, input] of corpus.entries()) {
      const c0 = cpuMs();
      const res = await w.fetch(`/v1/classify?size=${sizeOf(i)}`, { method: "POST", body: input.bytes as BodyInit, headers: { "content-type": "application/octet-stream" } });
      const text = await res.text();
      const ms = cpuMs() - c0;
      statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1);
      let code: string | undefined;
      try {
        code = JSON.parse(text).error?.code;
      } catch {
        findings.push(`${input.name}: ${res.status} with a non-JSON body`);
      }
      if (res.status >= 500) findings.push(`${input.name}: ${res.status} ${text.slice(0, 200)}`);
      else if (res.status !== 200 && !(res.status >= 400 && STABLE_CODES.has(code ?? ""))) findings.push(`${input.name}: ${res.status} ${code}`);
      if (ms > CPU_BUDGET_MS) findings.push(`${input.name}: ${res.status} after ${ms.toFixed(0)} ms of workerd CPU`);
    }
    expect(findings).toEqual([]);
    // Both outcomes happen: the corpus is not all refused (or all accepted) by accident.
    expect(statuses.get(200) ?? 0).toBeGreaterThan(5);
    expect([...statuses.keys()].filter((s) => s >= 400).length).toBeGreaterThanOrEqual(2);
    const ready = (await (await w.fetch("/readyz")).json()) as { memory: { wasmHeapBytes: number } };
    expect(ready.memory.wasmHeapBytes).toBeLessThanOrEqual(HEAP_BUDGET_BYTES);
  });

  it("thin images (1x240000, within MAX_TENSOR_PIXELS unaligned) are refused from the header, and the isolate lives on (issue 16.1)", { timeout: 120_000 }, async () => {
    const { makePng } = await import("../edge/helpers/images.ts");
    for (const [width, height] of [[240_000, 1], [1, 240_000]] as const) {
      const res = await w.fetch("/v1/classify?size=native", { method: "POST", body: makePng(width, height) as BodyInit, headers: { "content-type": "image/png" } });
      const body = (await res.json()) as { error: { code: string; message: string } };
      expect(res.status, JSON.stringify(body)).toBe(413);
      // With stride alignment the 1-pixel side becomes 32, so the tensor bound (240000x32) refuses it before
      // the activation bound would; either way it is refused from the header, naming the aspect ratio.
      expect(body.error.message).toMatch(/too thin|MAX_TENSOR_PIXELS/);
      expect(body.error.message).toMatch(/less extreme aspect ratio/);
    }
    expect((await w.fetch("/readyz")).status).toBe(200);
  });
});
