// trainer feedback pull: the feedback the worker stored in R2 becomes train/<class>/<sha256>.<ext>, read
// through a running worker (GET /v1/feedback) or from the local R2 state wrangler writes.
import { createHash } from "node:crypto";
import { mkdtempSync, readFileSync, readdirSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { main } from "../../trainer/src/cli.ts";
import { pullFeedback } from "../../trainer/src/feedback/pull.ts";
import { bucketSource, workerSource, type ListableBucket } from "../../trainer/src/feedback/source.ts";
import { scanFeedbackFolder } from "../../trainer/src/data/feedback-folder.ts";
import { bucketFromWranglerToml, wranglerR2Target } from "../../trainer/src/publish/r2-target.ts";
import { repoRoot } from "../helpers/data.ts";
import { startWorker, type WorkerHandle } from "../helpers/workerd.ts";
import { makeJpeg, makePng } from "../edge/helpers/images.ts";
import { wranglerVars } from "../edge/helpers/wrangler-vars.ts";

const TOKEN = "pull-test-token";
const sha = (b: Uint8Array) => createHash("sha256").update(b).digest("hex");
let w: WorkerHandle;
let r2: ListableBucket & { put(k: string, v: Uint8Array | string): Promise<unknown> };
const images: { label: string; bytes: Uint8Array; ext: string }[] = [];

beforeAll(async () => {
  w = await startWorker({ config: "wrangler.toml", r2Buckets: ["MODELS"], bindings: { ...wranglerVars(), FEEDBACK_TOKEN: TOKEN } });
  r2 = (await w.mf.getR2Bucket("MODELS")) as never;
  // Small squares (or near): with no model published, feedback is checked against the shared default preprocessing (224 px, no stride), whose tensors over MAX_TENSOR_PIXELS are refused, not scaled.
  images.push({ label: "red_panda", bytes: await makeJpeg(30, 30, 1), ext: "jpg" });
  images.push({ label: "red_panda", bytes: makePng(20, 24, 2), ext: "png" });
  images.push({ label: "n03888257", bytes: await makeJpeg(33, 33, 3), ext: "jpg" });
  for (const im of images) {
    const res = await w.fetch(`/v1/feedback?label=${im.label}`, { method: "POST", body: im.bytes as BodyInit, headers: { authorization: `Bearer ${TOKEN}` } });
    expect(res.status).toBe(201);
  }
  await r2.put("feedback/README.txt", "not an image"); // something else under the prefix
});
afterAll(() => w?.dispose());

const viaWorker = (token = TOKEN) =>
  workerSource({ url: "http://worker.test", token, fetch: (u, i) => w.fetch(new URL(u).pathname + new URL(u).search, i) });

function expectFolder(out: string): void {
  for (const im of images) {
    const file = join(out, "train", im.label, `${sha(im.bytes)}.${im.ext}`);
    expect(new Uint8Array(readFileSync(file))).toEqual(im.bytes);
  }
  expect(readdirSync(join(out, "train")).sort()).toEqual(["n03888257", "red_panda"]);
}

describe("feedback pull", () => {
  it("through the worker: every stored image lands in train/<class>/, a second pull fetches nothing, finetune's scanner reads it", async () => {
    const out = mkdtempSync(join(tmpdir(), "pull-"));
    // The worker's listing only names feedback images (README.txt is not one).
    const first = await pullFeedback(viaWorker(), out);
    expect(first).toEqual({ written: 3, skipped: 0, classes: { red_panda: 2, n03888257: 1 }, ignored: [] });
    expectFolder(out);
    const again = await pullFeedback(viaWorker(), out);
    expect(again).toMatchObject({ written: 0, skipped: 3 });
    // A damaged local copy is fetched again.
    writeFileSync(join(out, "train", "red_panda", `${sha(images[0]!.bytes)}.jpg`), "garbage");
    expect((await pullFeedback(viaWorker(), out)).written).toBe(1);
    expectFolder(out);
    const scanned = await scanFeedbackFolder(out);
    expect([...scanned.keys()]).toEqual(["n03888257", "red_panda"]);
    expect(scanned.get("red_panda")).toHaveLength(2);
  });

  it("straight from the bucket gives the same folder; a wrong token or an object that does not match its hash is refused", async () => {
    const out = mkdtempSync(join(tmpdir(), "pull-bucket-"));
    const logs: string[] = [];
    expect(await pullFeedback(bucketSource(r2), out, { log: (l) => void logs.push(l) })).toMatchObject({ written: 3, ignored: ["feedback/README.txt"] });
    expect(logs.join("\n")).toMatch(/ignored 1 objects .*feedback\/README.txt/);
    expectFolder(out);
    await expect(pullFeedback(viaWorker("nope"), mkdtempSync(join(tmpdir(), "pull-x-")))).rejects.toThrow(/refused: the bearer token is wrong.*set FEEDBACK_TOKEN/);
    await r2.put(`feedback/evil/${"a".repeat(64)}.jpg`, images[0]!.bytes);
    await expect(pullFeedback(bucketSource(r2), mkdtempSync(join(tmpdir(), "pull-y-")))).rejects.toThrow(/does not match the sha256 in its key/);
  });
});

describe("trainer feedback pull CLI", () => {
  async function cli(...argv: string[]) {
    const lines: string[] = [];
    const code = await main(argv, { log: (l) => void lines.push(l), write: (l) => void lines.push(l) });
    return { code, lines };
  }

  it("reads local R2 state written by wrangler (--persist-to)", { timeout: 120_000 }, async () => {
    const state = mkdtempSync(join(tmpdir(), "pull-state-"));
    const bucket = await bucketFromWranglerToml(join(repoRoot, "wrangler.toml"));
    const target = wranglerR2Target({ bucket, mode: "local", persistTo: state, cwd: repoRoot });
    const im = images[0]!;
    await target.put(`feedback/${im.label}/${sha(im.bytes)}.jpg`, im.bytes, "image/jpeg");
    const out = mkdtempSync(join(tmpdir(), "pull-cli-"));
    const cwd = process.cwd();
    process.chdir(repoRoot);
    try {
      const r = await cli("feedback", "pull", "--persist-to", state, "--out", out);
      expect(r.code, r.lines.join("\n")).toBe(0);
      expect(r.lines.at(-1)).toMatch(/1 new, 0 already there \(red_panda 1\)/);
    } finally {
      process.chdir(cwd);
    }
    expect(new Uint8Array(readFileSync(join(out, "train", im.label, `${sha(im.bytes)}.jpg`)))).toEqual(im.bytes);
  });

  it("user mistakes exit 1 with one line", async () => {
    const one = (r: { code: number; lines: string[] }, re: RegExp) => {
      expect(r.code).toBe(1);
      expect(r.lines).toHaveLength(1);
      expect(r.lines[0]).toMatch(re);
    };
    one(await cli("feedback", "--out", "x"), /missing sub-command; expected one of: pull/);
    one(await cli("feedback", "push", "--out", "x"), /unknown sub-command "push"/);
    one(await cli("feedback", "pull"), /needs --out <folder>/);
    one(await cli("feedback", "pull", "--out", "x", "--remote"), /--remote needs --worker https:.*wrangler cannot list R2 objects/);
    one(await cli("feedback", "pull", "--out", "x", "--worker", "localhost:8787"), /--worker expects the worker's URL/);
    one(await cli("feedback", "pull", "--out", "x", "--persist-to", "/no/such/state"), /no local R2 state at \/no\/such\/state\/v3\/r2/);
  });
});
