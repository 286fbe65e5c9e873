// Fast tier: every route and error through app.request(), with the real shared preprocessing (Node
// codecs) and real JPEG/PNG bodies, but a fake model registry (no ORT, no R2). The fake model's
// logits are a fixed function of the tensor, so responses can be checked exactly.
import { beforeAll, describe, expect, it } from "vitest";
import { preprocess, type ModelManifest } from "@resnet-edge/shared";
import { initCodecs } from "@resnet-edge/shared/node";
import { createApp } from "../../edge/src/app.ts";
import type { AppDeps } from "../../edge/src/deps.ts";
import { DEFAULT_LIMITS, uniformDecodeLimits, type Limits } from "../../edge/src/limits.ts";
import { softmax } from "../../edge/src/inference/postprocess.ts";
import { ModelUnavailableError, type LoadedModel, type Models, type ModelStatus } from "../../edge/src/models/registry.ts";
import { tinyModelArtifact } from "../../trainer/src/export/tiny-artifact.ts";
import { makeJpeg, makePng } from "./helpers/images.ts";
import { encodePng } from "../shared/helpers/png-encode.ts";
import { pngInstanceCount, pngMemoryBytes } from "../../shared/src/codecs/png.ts";
import { hasWebpTools, makeWebp } from "../shared/helpers/webp-files.ts";
import { hasImagenette } from "../helpers/data.ts";

/** Logits the fake model returns: class i gets the mean of channel i%3 times (i - 4.5). */
function fakeLogits(data: Float32Array, dims: readonly number[]): Float32Array {
  const plane = dims[2]! * dims[3]!;
  const means = [0, 1, 2].map((c) => data.subarray(c * plane, (c + 1) * plane).reduce((a, b) => a + b, 0) / plane);
  return Float32Array.from({ length: 10 }, (_, i) => means[i % 3]! * (i - 4.5));
}

class FakeModels implements Models {
  readonly runs: (readonly number[])[] = [];
  unavailable: ModelUnavailableError | null = null;
  failRun = false;
  constructor(private readonly manifests: Record<string, ModelManifest>) {}
  async use<T>(name: string, fn: (m: LoadedModel) => Promise<T>): Promise<T> {
    const manifest = this.manifests[name];
    if (!manifest) throw new ModelUnavailableError(404, "model_not_found", `no model named "${name}"`);
    if (this.unavailable) throw this.unavailable;
    const session = {
      run: async (data: Float32Array, dims: readonly number[]) => {
        if (this.failRun) throw new Error("secret internal detail at /srv/x.ts:12");
        this.runs.push(dims);
        return { data: fakeLogits(data, dims), dims: [1, 10] };
      },
      release: async () => {},
    };
    const timing = { readMs: 0, sessionMs: 0, bytes: 0 };
    return fn({ name, version: manifest.version, file: manifest.model.file, manifest, session, loadedAt: "2026-01-01T00:00:00.000Z", timing });
  }
  status(name: string): ModelStatus {
    return { name, serving: null, loading: null, lastError: null };
  }
  async manifest(name: string): Promise<ModelManifest> {
    const m = this.manifests[name];
    if (!m) throw new ModelUnavailableError(404, "model_not_found", `no model named "${name}"`);
    return m;
  }
  async names(): Promise<string[]> {
    return Object.keys(this.manifests);
  }
}

const manifest = tinyModelArtifact({ name: "tiny-fcn", version: "v1" }).manifest;
const limits: Limits = { ...DEFAULT_LIMITS, defaultModel: "tiny-fcn", maxBodyBytes: 3_000_000, decode: uniformDecodeLimits(200_000), maxTensorPixels: 150_000, maxBatch: 3 };
let models: FakeModels;
let app: ReturnType<typeof createApp>;
let jpeg97x203: Uint8Array;
let png320x240: Uint8Array;

beforeAll(async () => {
  await initCodecs();
  jpeg97x203 = await makeJpeg(97, 203);
  png320x240 = makePng(320, 240);
});

function fresh(): void {
  models = new FakeModels({ "tiny-fcn": manifest, other: { ...manifest, name: "other", version: "v7" } });
  const deps: AppDeps = { models, preprocess, limits };
  app = createApp(() => deps);
}

async function call(path: string, init?: RequestInit): Promise<{ status: number; body: any }> {
  const res = await app.request(path, init);
  expect(res.headers.get("content-type")).toMatch(/application\/json/);
  return { status: res.status, body: await res.json() };
}

function expectError(r: { status: number; body: any }, status: number, code: string): void {
  expect(r.status, JSON.stringify(r.body)).toBe(status);
  expect(r.body.error.code).toBe(code);
  expect(typeof r.body.error.message).toBe("string");
  expect(r.body.error.message.length).toBeGreaterThan(10);
  expect(JSON.stringify(r.body)).not.toMatch(/\n\s+at |\.ts:\d+:\d+/); // never a stack trace
}

const post = (body: Uint8Array | string, type = "image/jpeg"): RequestInit => ({ method: "POST", body: body as BodyInit, headers: { "content-type": type } });
const form = (...files: (Uint8Array | string)[]): FormData => {
  const f = new FormData();
  files.forEach((b, i) => (typeof b === "string" ? f.append("image", b) : f.append("image", new Blob([b as Uint8Array<ArrayBuffer>]), `img${i}`)));
  return f;
};

describe("health and metadata routes", () => {
  beforeAll(fresh);

  it("GET /healthz answers without touching the model", async () => {
    models.unavailable = new ModelUnavailableError(503, "checksum_mismatch", "x");
    expect(await call("/healthz")).toEqual({ status: 200, body: { status: "ok" } });
    models.unavailable = null;
  });

  it("GET /readyz is 200 with the model, 503 with the reason when it cannot load", async () => {
    const ok = await call("/readyz");
    expect(ok.status).toBe(200);
    expect(ok.body.model).toEqual({ name: "tiny-fcn", version: "v1" });
    models.unavailable = new ModelUnavailableError(503, "checksum_mismatch", "models/tiny-fcn/v1/model.onnx has sha256 abc but the manifest says def");
    const bad = await call("/readyz");
    expectError(bad, 503, "checksum_mismatch");
    expect(bad.body.error.message).toMatch(/sha256/);
    models.unavailable = null;
  });

  it("GET /v1/models lists models and the default", async () => {
    const r = await call("/v1/models");
    expect(r.status).toBe(200);
    expect(r.body.default).toBe("tiny-fcn");
    expect(r.body.models.map((m: { name: string }) => m.name)).toEqual(["tiny-fcn", "other"]);
  });

  it("GET /v1/models/:name returns the manifest; unknown names are 404", async () => {
    const r = await call("/v1/models/tiny-fcn");
    expect(r.status).toBe(200);
    expect(r.body.version).toBe("v1");
    expect(r.body.classes).toEqual(manifest.classes);
    expect(r.body.preprocess).toEqual(manifest.preprocess);
    expectError(await call("/v1/models/nope"), 404, "model_not_found");
    expectError(await call("/v1/models/BAD%20NAME"), 404, "model_not_found");
  });

  it("GET /v1/models/:name shows no local paths, even from an older manifest that recorded them", async () => {
    const old = { ...manifest, name: "old", training: { checkpoint: "/root/runs/ft64/checkpoint.bin", config: { data: "/home/me/data/imagenette", out: "../runs/ft64", size: 64 } } };
    models = new FakeModels({ "tiny-fcn": manifest, old });
    app = createApp(() => ({ models, preprocess, limits }));
    const r = await call("/v1/models/old");
    expect(r.status).toBe(200);
    expect(r.body.training).toEqual({ checkpoint: "checkpoint.bin", config: { data: "imagenette", out: "ft64", size: 64 } });
    expect(JSON.stringify(r.body)).not.toMatch(/\/root|\/home|\.\.\//);
  });

  it("GET /v1/openapi.json describes every route with the configured limits", async () => {
    const r = await call("/v1/openapi.json");
    expect(r.status).toBe(200);
    expect(r.body.openapi).toBe("3.1.0");
    expect(Object.keys(r.body.paths).sort()).toEqual(
      [
        "/",
        "/healthz",
        "/readyz",
        "/v1/classify",
        "/v1/classify/batch",
        "/v1/feedback",
        "/v1/feedback/{label}/{file}",
        "/v1/models",
        "/v1/models/{name}",
        "/v1/openapi.json",
        "/v1/ui",
        "/v1/ui/app.js",
        "/v1/ui/app.css",
        "/v2",
        "/v2/health/live",
        "/v2/health/ready",
        "/v2/models/{name}",
        "/v2/models/{name}/versions/{version}",
        "/v2/models/{name}/ready",
        "/v2/models/{name}/versions/{version}/ready",
        "/v2/models/{name}/infer",
        "/v2/models/{name}/versions/{version}/infer",
      ].sort(),
    );
    expect(JSON.stringify(r.body.paths["/v1/classify/batch"])).toContain(`(${limits.maxBatch})`);
  });

  it("unknown routes are JSON 404s", async () => {
    expectError(await call("/v3/classify", { method: "POST" }), 404, "not_found");
    expectError(await call("/v1/classify"), 404, "not_found"); // GET
  });
});

describe("POST /v1/classify", () => {
  beforeAll(fresh);

  it("classifies a raw JPEG: default size keeps the aspect ratio, no crop", async () => {
    const r = await call("/v1/classify", post(jpeg97x203));
    expect(r.status, JSON.stringify(r.body)).toBe(200);
    // tiny-fcn trained at 128: the shortest edge (97) becomes 128, 203 -> round(203*128/97) = 268.
    expect(r.body.input).toEqual({ format: "jpeg", width: 97, height: 203, tensor: { height: 268, width: 128 } });
    expect(models.runs.at(-1)).toEqual([1, 3, 268, 128]);
    expect(r.body.model).toEqual({ name: "tiny-fcn", version: "v1" });
    expect(r.body.predictions).toHaveLength(5);
    const scores = r.body.predictions.map((p: { score: number }) => p.score);
    expect([...scores].sort((a, b) => b - a)).toEqual(scores);
    for (const k of ["decode", "preprocess", "inference"]) expect(r.body.timing[k]).toBeGreaterThanOrEqual(0);
    // The scores are the softmax of the model's logits on the shared preprocessing's tensor.
    const pre = await preprocess(jpeg97x203, { ...manifest.preprocess, crop: null });
    const expected = softmax(fakeLogits(pre.data, pre.dims));
    for (const p of r.body.predictions) {
      const i = manifest.classes.findIndex((c) => c.wnid === p.wnid);
      expect(p.label).toBe(manifest.classes[i]!.label);
      expect(p.score).toBeCloseTo(expected[i]!, 12);
    }
  });

  it("gives the same answer for multipart field `image` as for the raw body", async () => {
    const raw = await call("/v1/classify?top_k=10", post(png320x240, "image/png"));
    const multi = await call("/v1/classify?top_k=10", { method: "POST", body: form(png320x240) });
    expect(multi.status).toBe(200);
    expect(multi.body.predictions).toEqual(raw.body.predictions);
    expect(raw.body.predictions).toHaveLength(10);
    expect(raw.body.predictions.reduce((a: number, p: { score: number }) => a + p.score, 0)).toBeCloseTo(1, 9);
  });

  it("size=native feeds the decoded image as is", async () => {
    const r = await call("/v1/classify?size=native", post(png320x240, "image/png"));
    expect(r.body.input).toEqual({ format: "png", width: 320, height: 240, tensor: { height: 240, width: 320 } });
  });

  it("model= picks another model; unknown model is 404; unloadable model is 503", async () => {
    expect((await call("/v1/classify?model=other", post(jpeg97x203))).body.model).toEqual({ name: "other", version: "v7" });
    expectError(await call("/v1/classify?model=nope", post(jpeg97x203)), 404, "model_not_found");
    models.unavailable = new ModelUnavailableError(503, "model_missing", "models/tiny-fcn/v1/model.onnx is missing");
    expectError(await call("/v1/classify", post(jpeg97x203)), 503, "model_missing");
    models.unavailable = null;
  });

  it.each([
    ["?top_k=0", "invalid_query"],
    ["?top_k=11", "invalid_query"],
    ["?top_k=x", "invalid_query"],
    ["?size=square", "invalid_query"],
    ["?model=../etc", "invalid_query"],
    ["?unknown=1", "invalid_query"],
  ])("422 for %s", async (q, code) => {
    expectError(await call(`/v1/classify${q}`, post(jpeg97x203)), 422, code);
  });

  it("400 for a missing body, an empty image, a text field, a broken form, a corrupt JPEG", async () => {
    expectError(await call("/v1/classify", { method: "POST" }), 400, "missing_body");
    expectError(await call("/v1/classify", { method: "POST", body: form(new Uint8Array(0)) }), 400, "empty_input");
    expectError(await call("/v1/classify", { method: "POST", body: form("not a file") }), 400, "not_a_file");
    const f = new FormData();
    f.append("picture", new Blob([jpeg97x203 as Uint8Array<ArrayBuffer>]));
    expectError(await call("/v1/classify", { method: "POST", body: f }), 400, "missing_image");
    expectError(
      await call("/v1/classify", post("--x\r\nbroken", "multipart/form-data; boundary=zzz")),
      400,
      "bad_multipart",
    );
    expectError(await call("/v1/classify", post(jpeg97x203.slice(0, jpeg97x203.length >> 1))), 400, "corrupt_image");
  });

  it("415 for formats shared/ does not decode, naming the supported ones", async () => {
    const gif = new TextEncoder().encode("GIF89a\x01\x00\x01\x00\x00\x00\x00;");
    const r = await call("/v1/classify", post(gif, "image/gif"));
    expectError(r, 415, "unsupported_format");
    expect(r.body.error.message).toMatch(/JPEG/);
    expect(r.body.error.message).toMatch(/PNG/);
    expectError(await call("/v1/classify", post("hello", "text/plain")), 415, "unsupported_format");
  });

  it("413 for a body over MAX_BODY_BYTES, declared or streamed", async () => {
    const big = new Uint8Array(limits.maxBodyBytes + 1);
    expectError(await call("/v1/classify", post(big)), 413, "body_too_large");
    const stream = new ReadableStream({
      start(c) {
        for (let i = 0; i < 4; i++) c.enqueue(new Uint8Array(1_000_000));
        c.close();
      },
    });
    expectError(await call("/v1/classify", { method: "POST", body: stream, duplex: "half" } as RequestInit), 413, "body_too_large");
  });

  it("413 for images over MAX_PIXELS or default-size tensors over MAX_TENSOR_PIXELS (refused from the header); native is scaled to fit", async () => {
    const huge = makePng(500, 500); // 250k > 200k pixels
    const r = await call("/v1/classify?size=native", post(huge, "image/png"));
    expectError(r, 413, "image_too_large");
    expect(r.body.error.message).toMatch(/MAX_PIXELS_PNG/);
    // 2000x2: 4000 pixels decoded, but a 128-pixel shortest edge makes it a 128000x128 tensor.
    const strip = makePng(2000, 2);
    const s = await call("/v1/classify", post(strip, "image/png"));
    expectError(s, 413, "image_too_large");
    expect(s.body.error.message).toMatch(/MAX_TENSOR_PIXELS/);
    expect((await call("/v1/classify?size=native", post(strip, "image/png"))).status).toBe(200);
    // 1200x100 (12:1): 1536x128 at the default size is over this MAX_TENSOR_PIXELS, but it fits scaled down
    // (this fixture's manifest has no stride: the legacy path fits too, down to 32 px).
    const wide = await call("/v1/classify", post(makePng(1200, 100), "image/png"));
    expect(wide.status).toBe(200);
    expect(wide.body.input.tensor.height * wide.body.input.tensor.width).toBeLessThanOrEqual(limits.maxTensorPixels);
    expect(wide.body.input.tensor.height).toBeGreaterThanOrEqual(32);
    expect(wide.body.input.tensor.height).toBeLessThan(128);
    // 440x400 = 176k: decodes (< MAX_PIXELS) and classifies at the default size; natively it is over
    // MAX_TENSOR_PIXELS, so it is scaled down, aspect kept, just enough to fit.
    const mid = makePng(440, 400);
    expect((await call("/v1/classify", post(mid, "image/png"))).status).toBe(200);
    const n = await call("/v1/classify?size=native", post(mid, "image/png"));
    expect(n.status).toBe(200);
    const { height, width } = n.body.input.tensor;
    expect(height * width).toBeLessThanOrEqual(limits.maxTensorPixels);
    expect(Math.abs(width / height - 440 / 400)).toBeLessThan(0.01);
    // ... and no smaller than it must be: one more pixel of shortest edge would not fit.
    expect((height + 1) * Math.round(((height + 1) * 440) / 400)).toBeGreaterThan(limits.maxTensorPixels);
  });

  it("echoes client text cut short, and as sent (issue 16.6, 16.7)", async () => {
    fresh();
    const long = "a".repeat(8192);
    for (const path of [`/v1/classify?model=${long}`, `/v1/classify?${long}=1`, `/v1/classify?size=${long}`, `/v1/classify?top_k=${long}`, `/v1/models/${long}`, `/${long}`]) {
      const res = await app.request(path, post(jpeg97x203));
      const text = await res.text();
      expect(res.status, path.slice(0, 40)).toBeGreaterThanOrEqual(400);
      expect(text.length, `${path.slice(0, 40)}: ${text.slice(0, 300)}`).toBeLessThan(600);
      expect(text).toMatch(/\(\d{4} characters\)/);
    }
    const big = `1${"0".repeat(23)}`; // 1e23: a Number would read back as 1e+23
    const r = await call(`/v1/classify?top_k=${big}`, post(jpeg97x203));
    expectError(r, 422, "invalid_query");
    expect(r.body.error.message).toContain(`"${big}"`);
    expect(r.body.error.message).not.toContain("e+");
  });

  it("200 with a `warnings` list for what libjpeg tolerates (bytes after the EOI); none for a clean file", async () => {
    const clean = await call("/v1/classify", post(jpeg97x203));
    expect(clean.status).toBe(200);
    expect(clean.body.warnings).toBeUndefined();
    const tail = new Uint8Array(jpeg97x203.length + 5);
    tail.set(jpeg97x203);
    tail.set([1, 2, 3, 4, 5], jpeg97x203.length);
    const r = await call("/v1/classify", post(tail));
    expect(r.status, JSON.stringify(r.body)).toBe(200);
    expect(r.body.warnings).toEqual(["5 bytes after the end-of-image marker were ignored"]);
    expect(r.body.predictions).toEqual(clean.body.predictions);
  });

  it("a JPEG frame height of 0 (DNL) is 415 unsupported_variant at both sizes, never an Infinity-sized tensor", async () => {
    const bytes = jpeg97x203.slice();
    let sof = 2;
    while (!(bytes[sof] === 0xff && (bytes[sof + 1] === 0xc0 || bytes[sof + 1] === 0xc2))) sof++;
    bytes[sof + 5] = 0;
    bytes[sof + 6] = 0;
    for (const size of ["default", "native"]) {
      const r = await call(`/v1/classify?size=${size}`, post(bytes));
      expectError(r, 415, "unsupported_variant");
      expect(r.body.error.message).toMatch(/height is 0/);
      expect(r.body.error.message).not.toMatch(/Infinity|NaN/);
    }
  });

  it("500 for a bug, logged, with no internals in the body", async () => {
    models.failRun = true;
    const r = await call("/v1/classify", post(jpeg97x203));
    models.failRun = false;
    expectError(r, 500, "internal_error");
    expect(JSON.stringify(r.body)).not.toContain("secret internal detail");
  });
});

describe("POST /v1/classify/batch", () => {
  beforeAll(fresh);

  it("returns one result per image in order; a bad image fails only its own entry", async () => {
    const gif = new TextEncoder().encode("GIF89a....");
    const r = await call("/v1/classify/batch?top_k=3", { method: "POST", body: form(jpeg97x203, gif, png320x240) });
    expect(r.status).toBe(200);
    expect(r.body.model).toEqual({ name: "tiny-fcn", version: "v1" });
    expect(r.body.results.map((x: { index: number; status: number }) => [x.index, x.status])).toEqual([
      [0, 200],
      [1, 415],
      [2, 200],
    ]);
    expect(r.body.results[0].input.width).toBe(97);
    expect(r.body.results[0].predictions).toHaveLength(3);
    expect(r.body.results[1].error.code).toBe("unsupported_format");
    expect(r.body.results[2].input.width).toBe(320);
    const single = await call("/v1/classify?top_k=3", post(png320x240, "image/png"));
    expect(r.body.results[2].predictions).toEqual(single.body.predictions);
  });

  it("refuses more than MAX_BATCH images, non-multipart bodies and forms without images", async () => {
    expectError(await call("/v1/classify/batch", { method: "POST", body: form(png320x240, png320x240, png320x240, png320x240) }), 413, "batch_too_large");
    expectError(await call("/v1/classify/batch", post(jpeg97x203)), 415, "multipart_required");
    const f = new FormData();
    f.append("other", "x");
    expectError(await call("/v1/classify/batch", { method: "POST", body: f }), 400, "missing_image");
    expectError(await call("/v1/classify/batch?top_k=99", { method: "POST", body: form(jpeg97x203) }), 422, "invalid_query");
  });
});

describe("a batch decodes its images with one instance per decoder", () => {
  it("three 1 MP PNGs instantiate the PNG decoder once (not three instances waiting for GC), released after the batch", async () => {
    const big: Limits = { ...limits, maxBodyBytes: 30_000_000, decode: uniformDecodeLimits(2_000_000) };
    const batchApp = createApp(() => ({ models: new FakeModels({ "tiny-fcn": manifest }), preprocess, limits: big }));
    const png = makePng(1000, 1000); // ~12 MiB of decoder memory: past the 8 MiB at which an instance is dropped
    // One image alone first: its grown instance is dropped after it, so the batch starts without a live one.
    expect((await batchApp.request("/v1/classify?top_k=1", { method: "POST", body: png as BodyInit, headers: { "content-type": "image/png" } })).status).toBe(200);
    expect(pngMemoryBytes()).toBe(0);
    const before = pngInstanceCount();
    const res = await batchApp.request("/v1/classify/batch?top_k=1", { method: "POST", body: form(png, png, png) });
    expect(res.status).toBe(200);
    const body = (await res.json()) as { results: { status: number }[] };
    expect(body.results.map((x) => x.status)).toEqual([200, 200, 200]);
    expect(pngInstanceCount()).toBe(before + 1);
    expect(pngMemoryBytes()).toBe(0);
  });
});

describe("per-path pixel limits (PNG, 16-bit PNG, WebP), from the header", () => {
  const pathLimits: Limits = { ...limits, decode: { ...limits.decode, maxPixels: { ...limits.decode.maxPixels, "jpeg-baseline": 50_000, "jpeg-progressive": 50_000, "jpeg-cmyk": 50_000, png: 20_000, png16: 5_000, webp: 60_000, "webp-lossless": 40_000 } } };
  let strict: ReturnType<typeof createApp>;
  beforeAll(() => {
    strict = createApp(() => ({ models: new FakeModels({ "tiny-fcn": manifest }), preprocess, limits: pathLimits }));
  });
  const ask = async (bytes: Uint8Array): Promise<{ status: number; body: any }> => {
    const res = await strict.request("/v1/classify", post(bytes, "application/octet-stream"));
    return { status: res.status, body: await res.json() };
  };
  const png16 = (width: number, height: number): Uint8Array =>
    encodePng({ width, height, colorType: 0, bitDepth: 16, samples: Array.from({ length: width * height }, (_, i) => (i * 977) % 65536) });

  it("a PNG over MAX_PIXELS_PNG is 413 naming that var; under it, 200 even above a smaller 16-bit limit", async () => {
    expect((await ask(makePng(140, 140))).status).toBe(200); // 19,600 <= 20,000
    const over = await ask(makePng(150, 140)); // 21,000
    expectError(over, 413, "image_too_large");
    expect(over.body.error.message).toMatch(/150x140 \(21000 pixels\) PNG; the limit for a PNG is 20000 pixels: .*\(limit set by MAX_PIXELS_PNG\)/);
  });

  it("a 16-bit PNG has its own, lower limit (MAX_PIXELS_PNG16)", async () => {
    expect((await ask(png16(70, 70))).status).toBe(200); // 4,900
    const over = await ask(png16(80, 70)); // 5,600: under MAX_PIXELS_PNG, over MAX_PIXELS_PNG16
    expectError(over, 413, "image_too_large");
    expect(over.body.error.message).toMatch(/16-bit PNG .*\(limit set by MAX_PIXELS_PNG16\)/);
  });

  it.skipIf(!hasWebpTools || !hasImagenette)("lossy WebP uses MAX_PIXELS_WEBP (above the JPEG limits here); lossless WebP MAX_PIXELS_WEBP_LOSSLESS", async () => {
    expect((await ask((await makeWebp("lossy", { resize: [240, 240] })).bytes)).status).toBe(200); // 57,600: over the JPEG limits, under MAX_PIXELS_WEBP
    expectError(await ask((await makeWebp("lossy", { resize: [250, 250] })).bytes), 413, "image_too_large");
    const lossless = await ask((await makeWebp("lossless", { resize: [210, 210] })).bytes); // 44,100
    expectError(lossless, 413, "image_too_large");
    expect(lossless.body.error.message).toMatch(/lossless WebP .*\(limit set by MAX_PIXELS_WEBP_LOSSLESS\)/);
    expect((await ask((await makeWebp("lossless", { resize: [190, 190] })).bytes)).status).toBe(200); // 36,100
  });
});
