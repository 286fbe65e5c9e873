// The /v2 (Open Inference Protocol) part of /v1/openapi.json: the protocol's paths with their
// optional version segment spelled out, our datatypes and limits. The protocol's own document is
// open_inference_rest.yaml (kserve/open-inference-protocol); the contract tests check against it.
import type { Limits } from "../limits.ts";

const ERROR = { $ref: "#/components/schemas/OipError" };
const json = (description: string, schema: object) => ({ description, content: { "application/json": { schema } } });
const err = (description: string) => json(description, ERROR);
const nameParam = { name: "name", in: "path", required: true, schema: { type: "string" } };
const versionParam = { name: "version", in: "path", required: true, schema: { type: "string" }, description: "Only the version serving (the active one) is loaded; any other is 404." };

export function v2Paths(limits: Limits): Record<string, unknown> {
  const infer = {
    post: {
      summary: "Open Inference Protocol inference: an FP32 tensor, or encoded images (BYTES)",
      description:
        "One input. FP32: the model's [N, C, H, W] tensor, `data` row-major (flat or nested); any H and W for a fully convolutional model, the fixed ones otherwise. " +
        "BYTES: shape [N], one encoded JPEG/PNG per element as a base64 string (or a byte string, code points 0-255), preprocessed exactly as /v1/classify at its default size " +
        "(a fixed-size model: resized and centre-cropped to its H x W). The input's name is free for BYTES. " +
        `Batch elements run one after another; N <= MAX_BATCH (${limits.maxBatch}), H*W <= MAX_TENSOR_PIXELS (${limits.maxTensorPixels}), body <= MAX_BODY_BYTES (${limits.maxBodyBytes}), images <= their decode path's MAX_PIXELS_* (e.g. MAX_PIXELS_JPEG_BASELINE ${limits.decode.maxPixels["jpeg-baseline"]}). ` +
        'The response is the logits tensor [N, classes]; `outputs: [{"name": <output>, "parameters": {"classification": k}}]` returns instead the top k per element as BYTES "<logit>:<index>:<label>" (Triton\'s classification extension).',
      requestBody: { required: true, content: { "application/json": { schema: { $ref: "#/components/schemas/OipInferenceRequest" } } } },
      responses: {
        "200": json("The output tensors", { $ref: "#/components/schemas/OipInferenceResponse" }),
        "400": err("Malformed request (the message names the field), undecodable or unsupported image."),
        "404": err("Unknown model, or a version that is not loaded."),
        "413": err("Over a limit: MAX_BODY_BYTES, MAX_BATCH, MAX_TENSOR_PIXELS, the decode path's MAX_PIXELS_* (or MAX_JPEG_COEFFICIENT_BYTES)."),
        "503": err("The model cannot be loaded (the message says why)."),
      },
    },
  };
  const metadata = {
    get: {
      summary: "Model metadata: inputs and outputs with datatype and shape (-1 for variable dims)",
      responses: {
        "200": json("Metadata", { type: "object", required: ["name", "platform"], properties: { name: { type: "string" }, versions: { type: "array", items: { type: "string" } }, platform: { type: "string", enum: ["onnx_onnxv1"] }, inputs: { type: "array" }, outputs: { type: "array" } } }),
        "404": err("Unknown model, or a version that is not loaded."),
        "503": err("The manifest cannot be read."),
      },
    },
  };
  const ready = {
    get: {
      summary: "Model ready: the version serves in this isolate (the first call loads it)",
      responses: { "200": json("{name, ready: true}", { type: "object" }), "404": err("Unknown model or version."), "503": err("{name, ready: false, error}: it cannot be loaded.") },
    },
  };
  const withName = (op: { get?: object; post?: object }, params: object[]) => Object.fromEntries(Object.entries(op).map(([m, o]) => [m, { ...o, parameters: params }]));
  return {
    "/v2/health/live": { get: { summary: "Server live", responses: { "200": json("{live: true}", { type: "object" }) } } },
    "/v2/health/ready": { get: { summary: "Server ready: the default model is loaded (loads it if needed)", responses: { "200": json("{live: true, ready: true}", { type: "object" }), "503": err("{live: true, ready: false, error}") } } },
    "/v2": { get: { summary: "Server metadata", responses: { "200": json("{name, version, extensions}", { type: "object" }) } } },
    "/v2/models/{name}": withName(metadata, [nameParam]),
    "/v2/models/{name}/versions/{version}": withName(metadata, [nameParam, versionParam]),
    "/v2/models/{name}/ready": withName(ready, [nameParam]),
    "/v2/models/{name}/versions/{version}/ready": withName(ready, [nameParam, versionParam]),
    "/v2/models/{name}/infer": withName(infer, [nameParam]),
    "/v2/models/{name}/versions/{version}/infer": withName(infer, [nameParam, versionParam]),
  };
}

const tensor = {
  type: "object",
  required: ["name", "shape", "datatype", "data"],
  properties: { name: { type: "string" }, shape: { type: "array", items: { type: "integer", minimum: 0 } }, datatype: { type: "string" }, parameters: { type: "object" }, data: { type: "array" } },
};

export const v2Schemas = {
  OipError: { type: "object", required: ["error"], properties: { error: { type: "string" } } },
  OipInferenceRequest: {
    type: "object",
    required: ["inputs"],
    properties: {
      id: { type: "string" },
      parameters: { type: "object" },
      inputs: { type: "array", minItems: 1, maxItems: 1, items: { ...tensor, properties: { ...tensor.properties, datatype: { type: "string", enum: ["FP32", "BYTES"] } } } },
      outputs: { type: "array", items: { type: "object", required: ["name"], properties: { name: { type: "string" }, parameters: { type: "object", properties: { classification: { type: "integer", minimum: 1 } } } } } },
    },
  },
  OipInferenceResponse: {
    type: "object",
    required: ["model_name", "outputs"],
    properties: { model_name: { type: "string" }, model_version: { type: "string" }, id: { type: "string" }, outputs: { type: "array", items: tensor } },
  },
};
