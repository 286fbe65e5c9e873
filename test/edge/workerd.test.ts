// Workerd tier: the worker built from wrangler.toml exactly as a deploy would, running in real workerd
// (Miniflare) with real onnxruntime-web wasm, a real R2 binding, and real JPEG/PNG bodies.
// One worker for the whole file; the models are the lead's tiny fully convolutional fixture.
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { gzipSync } from "node:zlib";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { bundleWorker, startWorker, type WorkerHandle } from "../helpers/workerd.ts";
import { callJson } from "./helpers/call.ts";
import { ODDIMAGES_DIR, hasImagenette, hasOddImages, needs } from "../helpers/data.ts";
import { hasWebpTools, makeWebp, type WebpKind } from "../shared/helpers/webp-files.ts";
import { makeManifest } from "../../trainer/src/export/manifest.ts";
import { tinyModelArtifact, type ModelArtifact } from "../../trainer/src/export/tiny-artifact.ts";
import { makeJpeg, makePng, withJpegFrameSize } from "./helpers/images.ts";
import { ODDIMAGES_EXPECTED, expectedOutcome, pixelLimitFor } from "./helpers/oddimages.ts";
import { publish, type WritableBucket } from "./helpers/publish.ts";
import { centered, logitsFromScores, maxAbsDiff, referenceFor } from "./helpers/reference.ts";
import { wranglerVars } from "./helpers/wrangler-vars.ts";

// The deployed limits, except: poll on every request, and allow 1 MP tensors so the parity cases can
// include 1024x768 natively (the production MAX_TENSOR_PIXELS is sized for ResNet-18's heap, not tiny-fcn's).
const vars: Record<string, string> = { ...wranglerVars(), MODEL_POLL_SECONDS: "0", DEFAULT_MODEL: "tiny-fcn", MAX_TENSOR_PIXELS: "1000000" };
const maxPixels = Number(vars.MAX_PIXELS_JPEG_BASELINE);
const maxTensorPixels = Number(vars.MAX_TENSOR_PIXELS);
const maxBodyBytes = Number(vars.MAX_BODY_BYTES);
const maxBatch = Number(vars.MAX_BATCH);

const workerOptions = { config: "wrangler.toml", r2Buckets: ["MODELS"], bindings: vars };
let w: WorkerHandle;
let bucket: WritableBucket;
const tiny: ModelArtifact = tinyModelArtifact({ name: "tiny-fcn", version: "v1", seed: 1234 });
const other: ModelArtifact = tinyModelArtifact({ name: "other", version: "v3", seed: 99 });

beforeAll(async () => {
  w = await startWorker(workerOptions);
  bucket = (await w.mf.getR2Bucket("MODELS")) as unknown as WritableBucket;
});
afterAll(() => w?.dispose());

const call = async (path: string, init?: RequestInit) => {
  const { status, body } = await callJson(w, path, init);
  return { status, body };
};

function expectError(r: { status: number; body: any }, status: number, code: string): void {
  expect(r.status, JSON.stringify(r.body)).toBe(status);
  expect(r.body.error.code, JSON.stringify(r.body)).toBe(code);
  expect(r.body.error.message.length).toBeGreaterThan(10);
  expect(JSON.stringify(r.body)).not.toMatch(/\n\s+at |\.[jt]s:\d+:\d+/);
}

/** Serialise a FormData here: Miniflare's dispatchFetch does not carry Node's FormData bodies across. */
async function multipart(form: FormData): Promise<RequestInit> {
  const r = new Response(form);
  return { method: "POST", body: new Uint8Array(await r.arrayBuffer()) as BodyInit, headers: { "content-type": r.headers.get("content-type")! } };
}

const post = (bytes: Uint8Array, type = "image/jpeg"): RequestInit => ({ method: "POST", body: bytes as BodyInit, headers: { "content-type": type } });

describe("the deploy bundle", () => {
  it("fits Cloudflare's 10 MB (gzip) limit for paid plans", async () => {
    const b = await bundleWorker(workerOptions); // cached: the bundle this file's worker runs
    const modules = readdirSync(b.dir).filter((f) => f.endsWith(".js") || f.endsWith(".wasm"));
    expect(modules.some((f) => f.endsWith("ort-wasm-simd-threaded.wasm"))).toBe(true);
    const gzip = modules.reduce((sum, f) => sum + gzipSync(readFileSync(join(b.dir, f)), { level: 6 }).byteLength, 0);
    expect(gzip).toBeLessThan(10 * 1024 * 1024);
  });
});

describe("before any model is published", () => {
  it("is alive but not ready, and classify says why (503)", async () => {
    expect(await call("/healthz")).toEqual({ status: 200, body: { status: "ok" } });
    expectError(await call("/readyz"), 503, "model_not_found");
    expectError(await call("/v1/classify", post(await makeJpeg(32, 32))), 503, "no_model_loaded");
    expectError(await call("/v1/classify?model=tiny-fcn", post(await makeJpeg(32, 32))), 404, "model_not_found");
  });
});

describe("with models in R2", () => {
  beforeAll(async () => {
    await publish(bucket, tiny);
    await publish(bucket, other);
  });

  it("GET /readyz loads the default model", async () => {
    const r = await call("/readyz");
    expect(r.status, JSON.stringify(r.body)).toBe(200);
    expect(r.body.model).toEqual({ name: "tiny-fcn", version: "v1" });
  });

  it("GET /v1/models and /v1/models/:name serve the manifests from R2", async () => {
    const list = await call("/v1/models");
    expect(list.body.models.map((m: { name: string }) => m.name)).toEqual(["other", "tiny-fcn"]);
    expect(list.body.models.find((m: { name: string }) => m.name === "tiny-fcn").status.serving.version).toBe("v1");
    const m = await call("/v1/models/other");
    expect(m.status).toBe(200);
    expect(m.body.version).toBe("v3");
    expect(m.body.classes).toEqual(other.manifest.classes);
    expect(m.body.model.sha256).toBe(other.manifest.model.sha256);
    expectError(await call("/v1/models/missing"), 404, "model_not_found");
  });

  it("GET /v1/openapi.json", async () => {
    const r = await call("/v1/openapi.json");
    expect(r.body.openapi).toBe("3.1.0");
    expect(r.body.paths["/v1/classify"].post).toBeDefined();
  });

  // Logits from onnxruntime-web in workerd must equal onnxruntime-node's on the same tensor.
  const cases: [string, number, number, "default" | "native"][] = [
    ["jpeg", 97, 203, "default"],
    ["png", 97, 203, "native"],
    ["jpeg", 320, 240, "native"],
    ["png", 320, 240, "default"],
    ["jpeg", 1024, 768, "native"],
    ["jpeg", 1024, 768, "default"],
  ];
  it.each(cases)("%s %ix%i size=%s: logits match onnxruntime-node (max abs diff < 1e-4)", async (format, width, height, size) => {
    const bytes = format === "jpeg" ? await makeJpeg(width, height, width) : makePng(width, height, width);
    const r = await call(`/v1/classify?top_k=10&size=${size}`, post(bytes, `image/${format}`));
    expect(r.status, JSON.stringify(r.body)).toBe(200);
    const ref = await referenceFor(tiny.onnx, tiny.manifest, bytes, size, maxPixels, maxTensorPixels);
    expect(r.body.input).toEqual({ format, width, height, tensor: { height: ref.dims[2], width: ref.dims[3] } });
    if (size === "native") expect(r.body.input.tensor).toEqual({ height, width });
    else expect(Math.min(r.body.input.tensor.height, r.body.input.tensor.width)).toBe(128);
    const diff = maxAbsDiff(logitsFromScores(r.body.predictions, tiny.manifest), centered(ref.logits));
    expect(diff).toBeLessThan(1e-4);
    expect(r.body.model).toEqual({ name: "tiny-fcn", version: "v1" });
  });

  // WebP (cwebp-made from Imagenette photos) through libwebp's wasm in workerd, against onnxruntime-node on
  // the Node-side preprocess of the same bytes; 1600x1200 takes the shrink-on-load path.
  const webpCases: [WebpKind, [number, number] | undefined, "default" | "native"][] = [
    ["lossy", undefined, "default"],
    ["lossless-alpha", undefined, "native"],
    ["lossy", [1600, 1200], "default"],
  ];
  it.skipIf(!hasWebpTools || !hasImagenette).each(webpCases)("WebP %s resized to %j size=%s: 200, logits match onnxruntime-node", async (kind, resize, size) => {
    const { bytes } = await makeWebp(kind, resize ? { resize } : {});
    const r = await call(`/v1/classify?top_k=10&size=${size}`, post(bytes, "image/webp"));
    expect(r.status, JSON.stringify(r.body)).toBe(200);
    const ref = await referenceFor(tiny.onnx, tiny.manifest, bytes, size, maxPixels, maxTensorPixels);
    expect(r.body.input).toMatchObject({ format: "webp", width: resize?.[0] ?? 224, height: resize?.[1] ?? 224 });
    expect(maxAbsDiff(logitsFromScores(r.body.predictions, tiny.manifest), centered(ref.logits))).toBeLessThan(1e-4);
  });

  it("multipart, model=, top_k default, and the batch route agree with single requests", async () => {
    const a = await makeJpeg(200, 150, 1);
    const b = makePng(64, 300, 2);
    const single = await call("/v1/classify?model=other", post(a));
    expect(single.body.model).toEqual({ name: "other", version: "v3" });
    expect(single.body.predictions).toHaveLength(5);
    const f = new FormData();
    f.append("image", new Blob([a as Uint8Array<ArrayBuffer>]), "a.jpg");
    const multi = await call("/v1/classify?model=other", await multipart(f));
    expect(multi.body.predictions).toEqual(single.body.predictions);

    const batch = new FormData();
    for (const [i, x] of [a, new TextEncoder().encode("GIF89a..."), b].entries()) batch.append("image", new Blob([x as Uint8Array<ArrayBuffer>]), `f${i}`);
    const r = await call("/v1/classify/batch?model=other", await multipart(batch));
    expect(r.status).toBe(200);
    expect(r.body.results.map((x: { status: number }) => x.status)).toEqual([200, 415, 200]);
    expect(r.body.results[0].predictions).toEqual(single.body.predictions);
    expect(r.body.results[1].error.code).toBe("unsupported_format");
    expect(r.body.results[2].input).toMatchObject({ width: 64, height: 300 });
  });

  it("keeps at most MAX_SESSIONS models loaded; the other reloads on demand (issue 16.3)", async () => {
    expect(vars.MAX_SESSIONS).toBe("1");
    const img = await makeJpeg(64, 48, 3);
    const a = await call("/v1/classify?model=other", post(img));
    const b = await call("/v1/classify", post(img));
    const again = await call("/v1/classify?model=other", post(img));
    for (const r of [a, b, again]) expect(r.status, JSON.stringify(r.body)).toBe(200);
    expect(again.body.predictions).toEqual(a.body.predictions);
    const serving = (await call("/v1/models")).body.models.filter((m: { status: { serving: unknown } }) => m.status.serving !== null);
    expect(serving.map((m: { name: string }) => m.name)).toEqual(["other"]);
  });

  it("answers concurrent requests correctly (runs are serialised inside the isolate)", async () => {
    const images = await Promise.all(Array.from({ length: 12 }, (_, i) => makeJpeg(60 + i * 13, 90 + i * 7, i)));
    const responses = await Promise.all(images.map((img, i) => call(`/v1/classify?top_k=10&size=${i % 2 ? "native" : "default"}`, post(img))));
    for (const [i, r] of responses.entries()) {
      expect(r.status).toBe(200);
      const ref = await referenceFor(tiny.onnx, tiny.manifest, images[i]!, i % 2 ? "native" : "default", maxPixels, maxTensorPixels);
      expect(maxAbsDiff(logitsFromScores(r.body.predictions, tiny.manifest), centered(ref.logits))).toBeLessThan(1e-4);
    }
  });

  it("serves the manifest's MODEL_VARIANT file (int8) when the model has one", async () => {
    const fp32 = tinyModelArtifact({ name: "variant", version: "v1", seed: 21 });
    const int8 = tinyModelArtifact({ name: "variant", version: "v1", seed: 22 }); // stands in for the int8 file
    const manifest = makeManifest({
      name: "variant",
      version: "v1",
      architecture: fp32.manifest.architecture,
      onnx: fp32.onnx,
      preprocess: fp32.manifest.preprocess,
      variants: { int8: { file: "model.int8.onnx", onnx: int8.onnx } },
    });
    await bucket.put("models/variant/v1/model.int8.onnx", int8.onnx);
    await publish(bucket, { onnx: fp32.onnx, manifest });
    const bytes = await makeJpeg(90, 70, 3);
    const r = await call("/v1/classify?model=variant&top_k=10", post(bytes));
    expect(r.status, JSON.stringify(r.body)).toBe(200);
    const ref = await referenceFor(int8.onnx, manifest, bytes, "default", maxPixels, maxTensorPixels);
    expect(maxAbsDiff(logitsFromScores(r.body.predictions, manifest), centered(ref.logits))).toBeLessThan(1e-4);
    expect((await call("/v1/models/variant")).body.status.serving.file).toBe("model.int8.onnx");
  });

  it("maps every error to its status with a JSON body", async () => {
    const jpeg = await makeJpeg(50, 40);
    expectError(await call("/v1/classify", { method: "POST" }), 400, "missing_body");
    expectError(await call("/v1/classify", post(jpeg.slice(0, 200))), 400, "corrupt_image");
    expectError(await call("/v1/classify", post(new Uint8Array(maxBodyBytes + 1))), 413, "body_too_large");
    const side = Math.ceil(Math.sqrt(maxPixels)) + 1;
    expectError(await call("/v1/classify?size=native", post(withJpegFrameSize(jpeg, side, side))), 413, "image_too_large");
    const wide = await makeJpeg(Math.ceil(maxTensorPixels / 500) + 10, 500); // decodes, but too big as a native tensor
    expect((await call("/v1/classify", post(wide))).status).toBe(200);
    const native = await call("/v1/classify?size=native", post(wide)); // scaled down to fit, aspect kept
    expect(native.status).toBe(200);
    expect(native.body.input.tensor.height * native.body.input.tensor.width).toBeLessThanOrEqual(maxTensorPixels);
    expect(native.body.input.tensor.height).toBeLessThan(500);
    expectError(await call("/v1/classify", post(new TextEncoder().encode("RIFF\0\0\0\0WEBPVP8 "), "image/webp")), 400, "corrupt_image"); // a WebP header cut short
    expectError(await call("/v1/classify", post(new TextEncoder().encode("GIF89a...."), "image/gif")), 415, "unsupported_format");
    expectError(await call("/v1/classify?top_k=11", post(jpeg)), 422, "invalid_query");
    expectError(await call("/v1/classify?size=big", post(jpeg)), 422, "invalid_query");
    const tooMany = new FormData();
    for (let i = 0; i <= maxBatch; i++) tooMany.append("image", new Blob([jpeg as Uint8Array<ArrayBuffer>]), `${i}.jpg`);
    expectError(await call("/v1/classify/batch", await multipart(tooMany)), 413, "batch_too_large");
    expectError(await call("/nope"), 404, "not_found");
  });
});

describe.skipIf(!hasOddImages)(`oddimages through the worker ${hasOddImages ? "" : `(skipped: ${needs("oddimages")})`}`, () => {
  beforeAll(async () => {
    await publish(bucket, tiny);
  });

  it("covers every file in the folder", () => {
    const files = readdirSync(ODDIMAGES_DIR).filter((f) => f !== "README.md").sort();
    expect(files).toEqual(Object.keys(ODDIMAGES_EXPECTED).sort());
  });

  for (const [file, expectation] of Object.entries(ODDIMAGES_EXPECTED)) {
    for (const size of ["default", "native"] as const) {
      it(`${file} size=${size}`, async () => {
        const bytes = new Uint8Array(readFileSync(join(ODDIMAGES_DIR, file)));
        const want = expectedOutcome(expectation, { maxPixels: pixelLimitFor(bytes, vars) }, size);
        const r = await call(`/v1/classify?size=${size}`, post(bytes, "application/octet-stream"));
        if (want.status !== 200) return expectError(r, want.status, want.code!);
        expect(r.status, JSON.stringify(r.body)).toBe(200);
        const [width, height] = (expectation as { size: [number, number] }).size;
        expect(r.body.input).toMatchObject({ width, height });
        const tensor = r.body.input.tensor as { width: number; height: number };
        if (size === "native") {
          expect(tensor.width * tensor.height).toBeLessThanOrEqual(maxTensorPixels);
          if (width * height <= maxTensorPixels) expect(tensor).toEqual({ width, height });
        }
        expect(Math.abs(tensor.width / tensor.height - width / height)).toBeLessThan(0.05 * (width / height) + 1 / tensor.height);
        expect(r.body.predictions).toHaveLength(5);
        for (const p of r.body.predictions) expect(Number.isFinite(p.score)).toBe(true);
      });
    }
  }
});
