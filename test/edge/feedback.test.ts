// POST/GET /v1/feedback in real workerd with a real R2 binding: bearer auth against the FEEDBACK_TOKEN
// secret, the classify decode rules, content-hash idempotency, and the objects really in R2.
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { hasOddImages, ODDIMAGES_DIR } from "../helpers/data.ts";
import { callJson } from "./helpers/call.ts";
import { startWorker, type WorkerHandle } from "../helpers/workerd.ts";
import { makeJpeg, makePng, withJpegFrameSize } from "./helpers/images.ts";
import { expectedOutcome, ODDIMAGES_EXPECTED, pixelLimitFor } from "./helpers/oddimages.ts";
import { wranglerVars } from "./helpers/wrangler-vars.ts";
import { publish, type WritableBucket } from "./helpers/publish.ts";
import { tinyModelArtifact } from "../../trainer/src/export/tiny-artifact.ts";

const TOKEN = "t0ken-for-tests";
let w: WorkerHandle;
let off: WorkerHandle;
let jpeg: Uint8Array;

interface R2Like {
  get(key: string): Promise<{ arrayBuffer(): Promise<ArrayBuffer>; httpMetadata?: { contentType?: string }; customMetadata?: Record<string, string> } | null>;
  list(o: { prefix: string }): Promise<{ objects: { key: string }[] }>;
}

beforeAll(async () => {
  const vars = { ...wranglerVars(), DEFAULT_MODEL: "tiny-fcn" };
  [w, off] = await Promise.all([
    startWorker({ config: "wrangler.toml", r2Buckets: ["MODELS"], bindings: { ...vars, FEEDBACK_TOKEN: TOKEN } }),
    startWorker({ config: "wrangler.toml", r2Buckets: ["MODELS"], bindings: vars }),
  ]);
  jpeg = await makeJpeg(48, 48, 5); // square: fits MAX_TENSOR_PIXELS at the tiny model's 224 px (a legacy manifest: over the cap is refused, not scaled)
});
afterAll(async () => {
  await w?.dispose();
  await off?.dispose();
});

const call = callJson;

const auth = (token = TOKEN) => ({ authorization: `Bearer ${token}` });
const post = (bytes: Uint8Array, label: string, headers: Record<string, string> = auth(), type = "image/jpeg") =>
  call(w, `/v1/feedback?label=${encodeURIComponent(label)}`, { method: "POST", body: bytes as BodyInit, headers: { "content-type": type, ...headers } });

function expectError(r: { status: number; body: any }, status: number, code: string): void {
  expect(r.status, JSON.stringify(r.body)).toBe(status);
  expect(r.body.error.code, JSON.stringify(r.body)).toBe(code);
  expect(r.body.error.message.length).toBeGreaterThan(10);
}

const sha = (b: Uint8Array) => createHash("sha256").update(b).digest("hex");
const bucket = async (h: WorkerHandle = w) => (await h.mf.getR2Bucket("MODELS")) as unknown as R2Like;

describe("POST /v1/feedback", () => {
  it("401 with WWW-Authenticate without a token or with a wrong one, and nothing is stored", async () => {
    for (const headers of [{}, auth("wrong"), auth(`${TOKEN}x`), { authorization: TOKEN }, { authorization: `Basic ${TOKEN}` }]) {
      const r = await post(jpeg, "n03888257", headers);
      expectError(r, 401, "unauthorized");
      expect(r.headers.get("www-authenticate")).toMatch(/^Bearer /);
    }
    expect((await (await bucket()).list({ prefix: "feedback/" })).objects).toEqual([]);
  });

  it("503 naming the secret when FEEDBACK_TOKEN is not set, whatever the token", async () => {
    const r = await call(off, "/v1/feedback?label=x", { method: "POST", body: jpeg as BodyInit, headers: { "content-type": "image/jpeg", ...auth() } });
    expectError(r, 503, "feedback_disabled");
    expect(r.body.error.message).toContain("wrangler secret put FEEDBACK_TOKEN");
    expectError(await call(off, "/v1/feedback", { headers: auth() }), 503, "feedback_disabled");
    expect((await (await bucket(off)).list({ prefix: "feedback/" })).objects).toEqual([]);
  });

  it("201 the first time, 200 with the same key on a repeat; the object and its metadata are in R2", async () => {
    const first = await post(jpeg, "n03888257");
    expect(first.status, JSON.stringify(first.body)).toBe(201);
    const key = `feedback/n03888257/${sha(jpeg)}.jpg`;
    expect(first.body).toMatchObject({ stored: true, key, label: "n03888257", format: "jpeg", width: 48, height: 48, bytes: jpeg.byteLength });
    const again = await post(jpeg, "n03888257");
    expect(again.status).toBe(200);
    expect(again.body).toMatchObject({ stored: false, key });

    const obj = await (await bucket()).get(key);
    expect(obj).not.toBeNull();
    expect(new Uint8Array(await obj!.arrayBuffer())).toEqual(jpeg);
    expect(obj!.httpMetadata?.contentType).toBe("image/jpeg");
    expect(obj!.customMetadata).toMatchObject({ label: "n03888257", sha256: sha(jpeg), format: "jpeg", width: "48", height: "48", contentType: "image/jpeg" });
    expect(Date.parse(obj!.customMetadata!.receivedAt!)).toBeGreaterThan(Date.now() - 60_000);

    // The same bytes under another (new) label is another object; a PNG via multipart keeps its format.
    const other = await post(jpeg, "red_panda");
    expect(other.status).toBe(201);
    expect(other.body.key).toBe(`feedback/red_panda/${sha(jpeg)}.jpg`);
    const png = makePng(20, 20, 2);
    const form = new FormData();
    form.append("image", new Blob([png as BlobPart], { type: "image/png" }), "x.png");
    form.append("label", "red_panda");
    const res = new Response(form);
    const mp = await call(w, "/v1/feedback", {
      method: "POST",
      body: new Uint8Array(await res.arrayBuffer()) as BodyInit,
      headers: { "content-type": res.headers.get("content-type")!, ...auth() },
    });
    expect(mp.status, JSON.stringify(mp.body)).toBe(201);
    expect(mp.body).toMatchObject({ key: `feedback/red_panda/${sha(png)}.png`, format: "png", width: 20, height: 20 });
  });

  it("refuses bad labels with 422 and bad images with classify's 4xx codes, storing nothing", async () => {
    const before = (await (await bucket()).list({ prefix: "feedback/" })).objects.length;
    expectError(await call(w, "/v1/feedback", { method: "POST", body: jpeg as BodyInit, headers: { "content-type": "image/jpeg", ...auth() } }), 422, "invalid_label");
    const bad = await post(jpeg, "red panda/../x");
    expectError(bad, 422, "invalid_label");
    expect(bad.body.error.message).toMatch(/letters, digits.*send red_panda_x/);
    expectError(await post(jpeg, "a".repeat(65)), 422, "invalid_label");
    expectError(await call(w, "/v1/feedback?label=a&top_k=1", { method: "POST", body: jpeg as BodyInit, headers: auth() }), 422, "invalid_query");
    expectError(await post(new TextEncoder().encode("GIF89a not really"), "x"), 415, "unsupported_format");
    expectError(await post(jpeg.slice(0, jpeg.length / 2), "x"), 400, "corrupt_image");
    expectError(await post(new Uint8Array(0), "x"), 400, "missing_body");
    const wide = withJpegFrameSize(await makeJpeg(200, 130, 1), 9000, 6000); // 54 MP > MAX_PIXELS_JPEG_BASELINE (50 MP)
    expectError(await post(wide, "x"), 413, "image_too_large");
    expect((await (await bucket()).list({ prefix: "feedback/" })).objects.length).toBe(before);
  });

  it("refuses what classify refuses, with the same status, code and message (issue 16.4), storing nothing", { timeout: 120_000 }, async () => {
    await publish((await w.mf.getR2Bucket("MODELS")) as unknown as WritableBucket, tinyModelArtifact({ name: "tiny-fcn", version: "v1" }));
    const before = (await (await bucket()).list({ prefix: "feedback/" })).objects.length;
    const cases: [string, Uint8Array, string][] = [
      ["2400000x1 PNG", makePng(2_400_000, 1), "image/png"], // under MAX_PIXELS, but an absurd tensor at any size
      ["1x2400000 PNG", makePng(1, 2_400_000), "image/png"],
      ["2000x1300 PNG", makePng(2000, 1300), "image/png"], // over MAX_PIXELS_PNG
    ];
    for (const [what, bytes, type] of cases) {
      const classified = await call(w, "/v1/classify", { method: "POST", body: bytes as BodyInit, headers: { "content-type": type } });
      const fed = await post(bytes, "x", auth(), type);
      expect(classified.status, `${what}: ${JSON.stringify(classified.body)}`).toBe(413);
      expectError(fed, classified.status, classified.body.error.code);
      expect(fed.body.error.message, what).toBe(classified.body.error.message);
      expect(fed.body.error.message, what).toMatch(/MAX_PIXELS|MAX_TENSOR_PIXELS/);
      expect(fed.body.error.message, what).not.toContain("maxPixels");
    }
    expect((await (await bucket()).list({ prefix: "feedback/" })).objects.length).toBe(before);
  });

  it.skipIf(!hasOddImages)("every oddimages file gets classify's answer: refused with the same status and code, or stored at its decoded size", { timeout: 120_000 }, async () => {
    for (const [file, expectation] of Object.entries(ODDIMAGES_EXPECTED)) {
      const bytes = new Uint8Array(readFileSync(join(ODDIMAGES_DIR, file)));
      const want = expectedOutcome(expectation, { maxPixels: pixelLimitFor(bytes, wranglerVars()) }, "default");
      const r = await post(bytes, "odd", auth(), "application/octet-stream");
      if (want.status !== 200) {
        expectError(r, want.status, want.code!);
        continue;
      }
      expect([200, 201], `${file}: ${JSON.stringify(r.body)}`).toContain(r.status);
      const [width, height] = (expectation as { size: [number, number] }).size;
      expect(r.body, file).toMatchObject({ width, height });
    }
  });
});

describe("GET /v1/feedback (listing and download, for trainer feedback pull)", () => {
  it("lists every stored image with label and hash, pages with a cursor, serves the bytes; all behind the token", async () => {
    expectError(await call(w, "/v1/feedback"), 401, "unauthorized");
    const all: any[] = [];
    let cursor: string | null = null;
    do {
      const page: { status: number; body: any } = await call(w, `/v1/feedback?limit=1${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ""}`, { headers: auth() });
      expect(page.status).toBe(200);
      expect(page.body.objects.length).toBeLessThanOrEqual(1);
      all.push(...page.body.objects);
      cursor = page.body.cursor;
    } while (cursor);
    const keys = all.map((o) => o.key);
    expect(keys).toContain(`feedback/n03888257/${sha(jpeg)}.jpg`);
    expect(keys).toContain(`feedback/red_panda/${sha(jpeg)}.jpg`);
    expect(new Set(keys).size).toBe(keys.length);
    const entry = all.find((o) => o.key === `feedback/red_panda/${sha(jpeg)}.jpg`);
    expect(entry).toMatchObject({ label: "red_panda", sha256: sha(jpeg), bytes: jpeg.byteLength });

    const res = await w.fetch(`/v1/${entry.key}`, { headers: auth() });
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toBe("image/jpeg");
    expect(new Uint8Array(await res.arrayBuffer())).toEqual(jpeg);
    expectError(await call(w, `/v1/${entry.key}`), 401, "unauthorized");
    expectError(await call(w, `/v1/feedback/red_panda/${"0".repeat(64)}.jpg`, { headers: auth() }), 404, "feedback_not_found");
    expectError(await call(w, "/v1/feedback?limit=0", { headers: auth() }), 422, "invalid_query");
  });
});
