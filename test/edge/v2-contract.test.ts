// The Open Inference Protocol (KServe v2) routes in real workerd (the deploy bundle, real R2, real
// onnxruntime-web), every response checked against the protocol's OpenAPI document with ajv, plus a
// client written from the specification alone. Needs ../shared/specs; skips with a message without it.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startWorker, type WorkerHandle } from "../helpers/workerd.ts";
import { callJson } from "./helpers/call.ts";
import { tinyModelArtifact, type ModelArtifact } from "../../trainer/src/export/tiny-artifact.ts";
import { makeJpeg, makePng, withJpegFrameSize } from "./helpers/images.ts";
import { hasSpec, NEEDS_SPEC, OipContract } from "./helpers/oip-contract.ts";
import { publish, uploadVersion, type WritableBucket } from "./helpers/publish.ts";
import { maxAbsDiff, nativeLogits } from "./helpers/reference.ts";
import { wranglerVars } from "./helpers/wrangler-vars.ts";
import { preprocess } from "@resnet-edge/shared";
import { initCodecs } from "@resnet-edge/shared/node";
import { requestConfig } from "../../edge/src/classify.ts";

const vars: Record<string, string> = { ...wranglerVars(), MODEL_POLL_SECONDS: "0", DEFAULT_MODEL: "tiny-fcn" };
const maxBatch = Number(vars.MAX_BATCH);
const maxTensorPixels = Number(vars.MAX_TENSOR_PIXELS);
const maxBodyBytes = Number(vars.MAX_BODY_BYTES);
const maxPixels = Number(vars.MAX_PIXELS_JPEG_BASELINE);

const tiny: ModelArtifact = tinyModelArtifact({ name: "tiny-fcn", version: "v1", seed: 1234 });
const fixed: ModelArtifact = tinyModelArtifact({ name: "fixed", version: "v2", seed: 77, spatial: [64, 64] });

/**
 * A client written from inference_rest.md alone: the paths of its API table, JSON bodies, and the
 * error object {"error": $string} on any non-200 status.
 */
class SpecClient {
  constructor(private readonly fetcher: (path: string, init?: RequestInit) => Promise<Response>) {}
  private async get(path: string): Promise<{ ok: boolean; status: number; body: any }> {
    const res = await this.fetcher(path);
    return { ok: res.status === 200, status: res.status, body: await res.json() };
  }
  serverLive() {
    return this.get("/v2/health/live");
  }
  serverReady() {
    return this.get("/v2/health/ready");
  }
  serverMetadata() {
    return this.get("/v2");
  }
  modelMetadata(name: string, version?: string) {
    return this.get(`/v2/models/${name}${version ? `/versions/${version}` : ""}`);
  }
  modelReady(name: string) {
    return this.get(`/v2/models/${name}/ready`);
  }
  async infer(name: string, request: object): Promise<{ ok: boolean; status: number; body: any }> {
    const res = await this.fetcher(`/v2/models/${name}/infer`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(request) });
    return { ok: res.status === 200, status: res.status, body: await res.json() };
  }
}

describe.skipIf(!hasSpec)(`the /v2 routes against the Open Inference Protocol document${hasSpec ? "" : ` (skipped: ${NEEDS_SPEC})`}`, () => {
  let w: WorkerHandle;
  let bucket: WritableBucket;
  let contract: OipContract;
  const seen = new Set<string>();

  /** Every /v2 call of this file goes through here: the response must be JSON and valid against the document. */
  async function call(path: string, init: RequestInit = {}): Promise<{ status: number; body: any }> {
    const res = await callJson(w, path, init);
    const { body, text } = res;
    const method = init.method ?? "GET";
    expect(contract.check(method, new URL(path, "http://x").pathname, res.status, body), `${method} ${path} -> ${res.status} ${text.slice(0, 300)}`).toEqual([]);
    seen.add(`${method} ${contract.operation(method, new URL(path, "http://x").pathname).path} ${res.status}`);
    if (res.status !== 200) {
      expect(typeof body.error, text).toBe("string");
      expect(body.error.length).toBeGreaterThan(15);
      expect(text).not.toMatch(/\n\s+at |\.[jt]s:\d+:\d+/);
    }
    return { status: res.status, body };
  }
  const infer = (path: string, request: unknown) => call(path, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(request) });

  beforeAll(async () => {
    contract = new OipContract();
    w = await startWorker({ config: "wrangler.toml", r2Buckets: ["MODELS"], bindings: vars });
    bucket = (await w.mf.getR2Bucket("MODELS")) as unknown as WritableBucket;
  });
  afterAll(() => w?.dispose());

  it("the validator itself refuses a body that breaks the document", () => {
    expect(contract.check("GET", "/v2", 200, { name: "x", version: 1 }).length).toBeGreaterThan(0);
    expect(contract.check("POST", "/v2/models/m/infer", 200, { model_name: "m", outputs: [{ name: "o", shape: [1], datatype: "FP32" }] }).length).toBeGreaterThan(0);
    expect(contract.check("GET", "/v2/models/m", 200, { name: "m" }).length).toBeGreaterThan(0); // no platform
  });

  it("before any model: live, not ready (503), unknown models 404", async () => {
    expect(await call("/v2/health/live")).toEqual({ status: 200, body: { live: true } });
    const ready = await call("/v2/health/ready");
    expect(ready.status).toBe(503);
    expect(ready.body.ready).toBe(false);
    expect((await call("/v2/models/tiny-fcn")).status).toBe(404);
    expect((await call("/v2/models/tiny-fcn/ready")).status).toBe(404);
    expect((await infer("/v2/models/tiny-fcn/infer", { inputs: [] })).status).toBe(400); // the body is checked first
    expect((await call("/v2/models/Not%20A%20Name")).status).toBe(404);
  });

  describe("with models in R2", () => {
    beforeAll(async () => {
      await publish(bucket, tiny);
      await publish(bucket, fixed);
    });

    it("server metadata (at /v2 and /v2/), ready probes, model metadata with -1 for symbolic dims", async () => {
      const meta = await call("/v2");
      expect(meta.body).toEqual({ name: "resnet-edge", version: expect.any(String), extensions: ["classification"] });
      expect((await call("/v2/")).body).toEqual(meta.body);
      expect(await call("/v2/health/ready")).toEqual({ status: 200, body: { live: true, ready: true } });
      expect(await call("/v2/models/tiny-fcn/ready")).toEqual({ status: 200, body: { name: "tiny-fcn", ready: true } });
      expect(await call("/v2/models/tiny-fcn/versions/v1/ready")).toEqual({ status: 200, body: { name: "tiny-fcn", ready: true } });
      const m = await call("/v2/models/tiny-fcn");
      expect(m.body).toEqual({
        name: "tiny-fcn",
        versions: ["v1"],
        platform: "onnx_onnxv1",
        inputs: [{ name: "input", datatype: "FP32", shape: [-1, 3, -1, -1] }],
        outputs: [{ name: "logits", datatype: "FP32", shape: [-1, 10] }],
      });
      expect((await call("/v2/models/tiny-fcn/versions/v1")).body).toEqual(m.body);
      expect((await call("/v2/models/fixed")).body.inputs[0].shape).toEqual([-1, 3, 64, 64]);
    });

    it("a version that is not loaded is 404 on metadata, ready and infer; the served one answers", async () => {
      await uploadVersion(bucket, tinyModelArtifact({ name: "tiny-fcn", version: "v0", seed: 5 })); // in R2, not active
      for (const path of ["/v2/models/tiny-fcn/versions/v0", "/v2/models/tiny-fcn/versions/v0/ready"]) {
        const r = await call(path);
        expect(r.status).toBe(404);
        expect(r.body.error).toMatch(/v0.*not loaded.*v1/);
      }
      const r = await infer("/v2/models/tiny-fcn/versions/v0/infer", { inputs: [{ name: "input", shape: [1, 3, 1, 1], datatype: "FP32", data: [0, 0, 0] }] });
      expect(r.status).toBe(404);
      expect((await infer("/v2/models/tiny-fcn/versions/v1/infer", { inputs: [{ name: "input", shape: [1, 3, 1, 1], datatype: "FP32", data: [0, 0, 0] }] })).status).toBe(200);
    });

    // onnxruntime-web in workerd against onnxruntime-node on the same tensor, at sizes a FCN takes.
    it.each([
      [1, 8, 8],
      [2, 31, 17],
      [3, 64, 96],
    ])("FP32 tensor input, batch %i of %ix%i: the logits tensor matches onnxruntime-node (max abs diff < 1e-4)", async (n, h, wd) => {
      const data = Float32Array.from({ length: n * 3 * h * wd }, (_, i) => Math.sin(i * 0.37) * 2);
      const nested = Array.from({ length: n }, (_, b) => Array.from(data.subarray(b * 3 * h * wd, (b + 1) * 3 * h * wd)));
      const r = await infer("/v2/models/tiny-fcn/infer", { id: `t${n}`, inputs: [{ name: "input", shape: [n, 3, h, wd], datatype: "FP32", data: nested }] });
      expect(r.status, JSON.stringify(r.body).slice(0, 300)).toBe(200);
      expect(r.body).toMatchObject({ model_name: "tiny-fcn", model_version: "v1", id: `t${n}` });
      expect(r.body.outputs).toHaveLength(1);
      expect(r.body.outputs[0]).toMatchObject({ name: "logits", datatype: "FP32", shape: [n, 10] });
      const ref = await nativeLogits(tiny.onnx, data, [n, 3, h, wd]);
      expect(maxAbsDiff(r.body.outputs[0].data, ref)).toBeLessThan(1e-4);
    });

    it("BYTES image input (base64, and raw byte strings) goes through /v1's preprocessing; classification extension", async () => {
      await initCodecs();
      const jpeg = await makeJpeg(97, 203, 3);
      const png = makePng(160, 90, 4);
      const b64 = (b: Uint8Array) => Buffer.from(b).toString("base64");
      const r = await infer("/v2/models/tiny-fcn/infer", { inputs: [{ name: "image", shape: [2], datatype: "BYTES", data: [b64(jpeg), Buffer.from(png).toString("latin1")] }] });
      expect(r.status, JSON.stringify(r.body).slice(0, 300)).toBe(200);
      expect(r.body.outputs[0]).toMatchObject({ name: "logits", datatype: "FP32", shape: [2, 10] });
      for (const [i, bytes] of [jpeg, png].entries()) {
        const pre = await preprocess(bytes, requestConfig(tiny.manifest, "default", maxPixels));
        const ref = await nativeLogits(tiny.onnx, pre.data, pre.dims);
        expect(maxAbsDiff(r.body.outputs[0].data.slice(i * 10, i * 10 + 10), ref)).toBeLessThan(1e-4);
      }
      // The same through /v1/classify: the top class agrees.
      const v1 = await (await w.fetch("/v1/classify?top_k=1", { method: "POST", body: jpeg as BodyInit, headers: { "content-type": "image/jpeg" } })).json();
      const top = await infer("/v2/models/tiny-fcn/infer", {
        inputs: [{ name: "image", shape: [1], datatype: "BYTES", data: [b64(jpeg)] }],
        outputs: [{ name: "logits", parameters: { classification: 3 } }],
      });
      expect(top.body.outputs[0]).toMatchObject({ name: "logits", datatype: "BYTES", shape: [1, 3] });
      const [value, index, label] = (top.body.outputs[0].data[0] as string).split(":");
      expect(label).toBe((v1 as any).predictions[0].label);
      expect(Number(value)).toBeCloseTo(r.body.outputs[0].data[Number(index)], 4);
    });

    it("a fixed-size model: images are resized and centre-cropped to its H x W; tensors must have it", async () => {
      await initCodecs();
      const jpeg = await makeJpeg(300, 120, 9);
      const r = await infer("/v2/models/fixed/infer", { inputs: [{ name: "image", shape: [1], datatype: "BYTES", data: [Buffer.from(jpeg).toString("base64")] }] });
      expect(r.status, JSON.stringify(r.body).slice(0, 300)).toBe(200);
      const pre = await preprocess(jpeg, fixed.manifest.preprocess);
      expect(pre.dims).toEqual([1, 3, 64, 64]);
      expect(maxAbsDiff(r.body.outputs[0].data, await nativeLogits(fixed.onnx, pre.data, pre.dims))).toBeLessThan(1e-4);
      // /v1/classify serves it too (the crop is kept whatever `size` says).
      const v1 = await w.fetch("/v1/classify?model=fixed&size=native", { method: "POST", body: jpeg as BodyInit, headers: { "content-type": "image/jpeg" } });
      expect(v1.status).toBe(200);
      expect(((await v1.json()) as any).input.tensor).toEqual({ height: 64, width: 64 });
      const wrong = await infer("/v2/models/fixed/infer", { inputs: [{ name: "input", shape: [1, 3, 32, 32], datatype: "FP32", data: new Array(3 * 32 * 32).fill(0) }] });
      expect(wrong.status).toBe(400);
      expect(wrong.body.error).toMatch(/height is fixed at 64/);
    });

    it("bad requests: 400 with a message naming the field; limits 413; all in the protocol's error shape", async () => {
      const path = "/v2/models/tiny-fcn/infer";
      const t = (shape: number[], data: unknown, extra: object = {}) => ({ inputs: [{ name: "input", shape, datatype: "FP32", data, ...extra }] });
      const cases: [unknown, number, RegExp][] = [
        [{}, 400, /inputs/],
        [t([1, 3, 2, 2], [1, 2, 3]), 400, /3 elements but its shape holds 12/],
        [t([1, 3, 1, 1], [1, 2, 3, 4]), 400, /more elements/],
        [t([1, 3, 1, 1], [1, "x", 3]), 400, /data\[1\].*finite number/],
        [t([3, 1, 1], [1, 2, 3]), 400, /4-D/],
        [t([1, 4, 1, 1], [1, 2, 3, 4]), 400, /channel is fixed at 3/],
        [{ inputs: [{ name: "nope", shape: [1, 3, 1, 1], datatype: "FP32", data: [0, 0, 0] }] }, 400, /no input "nope".*"input"/],
        [{ inputs: [{ name: "input", shape: [1, 3, 1, 1], datatype: "INT64", data: [0, 0, 0] }] }, 400, /datatype "INT64" is not supported/],
        [{ ...t([1, 3, 1, 1], [0, 0, 0]), outputs: [{ name: "probs" }] }, 400, /no output "probs"/],
        [{ ...t([1, 3, 1, 1], [0, 0, 0]), outputs: [{ name: "logits", parameters: { classification: 11 } }] }, 400, /10 classes/],
        [{ ...t([1, 3, 1, 1], [0, 0, 0]), id: 42 }, 400, /id must be a string/],
        [{ inputs: [{ name: "image", shape: [1], datatype: "BYTES", data: ["R0lGODlhAQABAAAAACw="] }] }, 400, /supported|format/i],
        [{ inputs: [{ name: "image", shape: [1], datatype: "BYTES", data: ["\u4e00\u4e01"] }] }, 400, /base64/],
        [{ inputs: [{ name: "image", shape: [1], datatype: "BYTES", data: [Buffer.from((await makeJpeg(40, 30)).slice(0, 300)).toString("base64")] }] }, 400, /truncated|corrupt|EOI/i],
        [t([maxBatch + 1, 3, 1, 1], []), 413, /MAX_BATCH/],
        [t([1, 3, 1, maxTensorPixels + 1], []), 413, /MAX_TENSOR_PIXELS/],
      ];
      for (const [body, status, message] of cases) {
        const r = await infer(path, body);
        expect(r.status, JSON.stringify(body).slice(0, 200)).toBe(status);
        expect(r.body.error).toMatch(message);
      }
      const notJson = await call(path, { method: "POST", body: "{inputs:", headers: { "content-type": "application/json" } });
      expect(notJson.status).toBe(400);
      expect(notJson.body.error).toMatch(/not valid JSON/);
      const big = await call(path, { method: "POST", body: new Uint8Array(maxBodyBytes + 1) as BodyInit, headers: { "content-type": "application/json" } });
      expect(big.status).toBe(413);
      expect(big.body.error).toMatch(/MAX_BODY_BYTES/);
      const side = Math.ceil(Math.sqrt(maxPixels)) + 1;
      const huge = await infer(path, { inputs: [{ name: "image", shape: [1], datatype: "BYTES", data: [Buffer.from(withJpegFrameSize(await makeJpeg(50, 40), side, side)).toString("base64")] }] });
      expect(huge.status).toBe(413);
      expect(huge.body.error).toMatch(/MAX_PIXELS/);
      // Unknown routes under /v2 answer in the protocol's shape too (validated as an inference error).
      const res = await w.fetch("/v2/models/tiny-fcn/explain", { method: "POST" });
      expect(res.status).toBe(404);
      expect(typeof ((await res.json()) as any).error).toBe("string");
    });

    it("a client written from the specification alone: health, metadata, infer with a tensor and with an image", async () => {
      const client = new SpecClient((p, i) => w.fetch(p, i));
      expect((await client.serverLive()).body.live).toBe(true);
      expect((await client.serverReady()).ok).toBe(true);
      const server = await client.serverMetadata();
      expect(server.body.extensions).toContain("classification");
      const models = ["tiny-fcn", "fixed"];
      for (const name of models) {
        expect((await client.modelReady(name)).body.ready).toBe(true);
        const meta = (await client.modelMetadata(name)).body;
        const [input] = meta.inputs;
        const [output] = meta.outputs;
        // Variable dims (-1) chosen by the client: batch 2, 40x56 spatial.
        const shape = input.shape.map((d: number, i: number) => (d !== -1 ? d : i === 0 ? 2 : i === 2 ? 40 : 56));
        const count = shape.reduce((a: number, b: number) => a * b, 1);
        const res = await client.infer(name, { id: "spec", inputs: [{ name: input.name, shape, datatype: input.datatype, data: Array.from({ length: count }, (_, i) => (i % 7) / 7) }] });
        expect(res.ok, JSON.stringify(res.body).slice(0, 200)).toBe(true);
        expect(res.body.id).toBe("spec");
        const out = res.body.outputs.find((o: { name: string }) => o.name === output.name);
        expect(out.shape).toEqual([2, output.shape[1]]);
        expect(out.data).toHaveLength(2 * output.shape[1]);
        const image = await client.infer(name, { inputs: [{ name: "image", shape: [1], datatype: "BYTES", data: [Buffer.from(await makeJpeg(120, 80)).toString("base64")] }] });
        expect(image.ok, JSON.stringify(image.body).slice(0, 200)).toBe(true);
        expect(image.body.outputs[0].shape).toEqual([1, output.shape[1]]);
      }
      const missing = await client.modelMetadata("missing");
      expect(missing.ok).toBe(false);
      expect(typeof missing.body.error).toBe("string");
    });

    it("covered every operation of the document", () => {
      const ops = [...seen].map((s) => s.split(" ").slice(0, 2).join(" "));
      for (const op of ["GET /v2/health/live", "GET /v2/health/ready", "GET /v2/", "GET /v2/models/${MODEL_NAME}/versions/${MODEL_VERSION}", "GET /v2/models/${MODEL_NAME}/versions/${MODEL_VERSION}/ready", "POST /v2/models/${MODEL_NAME}/versions/${MODEL_VERSION}/infer"]) {
        expect(ops).toContain(op);
      }
    });
  });
});
