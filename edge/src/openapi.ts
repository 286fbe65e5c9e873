// The API description served at GET /v1/openapi.json. Limits are filled in from the running config.
import type { Limits } from "./limits.ts";
import { v2Paths, v2Schemas } from "./oip/openapi.ts";

const error = (description: string) => ({
  description,
  content: { "application/json": { schema: { $ref: "#/components/schemas/Error" } } },
});

/** The try-it page and its assets: served with a strict Content-Security-Policy (self only, no inline code). */
const page = (type: string) => ({ description: "Served with Content-Security-Policy, X-Content-Type-Options: nosniff, Referrer-Policy: no-referrer, frame-ancestors 'none'", content: { [type]: { schema: { type: "string" } } } });

const queryParams = [
  {
    name: "top_k",
    in: "query",
    description: "How many classes to return, highest score first. Default 5 (or the class count if smaller); at most the class count.",
    schema: { type: "integer", minimum: 1 },
  },
  { name: "model", in: "query", description: "Model name; default the worker's DEFAULT_MODEL. GET /v1/models lists them.", schema: { type: "string" } },
  {
    name: "size",
    in: "query",
    description:
      "How the image reaches the net. `default`: the model manifest's `preprocess` (for this repo's exports: shortest edge scaled to the calibrated serving size, aspect ratio kept, both sides rounded to the nearest multiple of the net's stride, no crop). `native`: the whole decoded image at its own resolution (sides rounded to the stride); an image over MAX_TENSOR_PIXELS pixels is scaled down, aspect kept, just enough to fit.",
    schema: { type: "string", enum: ["default", "native"], default: "default" },
  },
  {
    name: "tta",
    in: "query",
    description:
      "`1`: test-time augmentation (fastai's tta): the softmax probabilities of 4 views (centre, mirrored, and two shifted crops of a slightly larger resize) are averaged. Costs 4 model runs instead of 1; the response's `tta` lists the views.",
    schema: { type: "string", enum: ["0", "1", "true", "false"], default: "0" },
  },
];

export function openapiDocument(limits: Limits): Record<string, unknown> {
  const imageBody = {
    required: true,
    content: {
      "image/jpeg": { schema: { type: "string", format: "binary" } },
      "image/png": { schema: { type: "string", format: "binary" } },
      "image/webp": { schema: { type: "string", format: "binary" } },
      "application/octet-stream": { schema: { type: "string", format: "binary" } },
      "multipart/form-data": {
        schema: { type: "object", required: ["image"], properties: { image: { type: "string", format: "binary" } } },
      },
    },
  };
  const classifyErrors = {
    "400": error("Missing body, empty or undecodable image, bad multipart body."),
    "413": error(`Body over MAX_BODY_BYTES (${limits.maxBodyBytes}), or image over its decode path's pixel limit (MAX_PIXELS_JPEG_BASELINE ${limits.decode.maxPixels["jpeg-baseline"]}, MAX_PIXELS_JPEG_PROGRESSIVE ${limits.decode.maxPixels["jpeg-progressive"]}, MAX_PIXELS_PNG ${limits.decode.maxPixels.png}, MAX_PIXELS_PNG16 ${limits.decode.maxPixels.png16}, MAX_PIXELS_WEBP ${limits.decode.maxPixels.webp}, MAX_PIXELS_WEBP_LOSSLESS ${limits.decode.maxPixels["webp-lossless"]}, ...), or tensor over MAX_TENSOR_PIXELS.`),
    "415": error("Unsupported image format (supported: image/jpeg, image/png, image/webp) or variant (e.g. 12-bit JPEG, animated WebP)."),
    "422": error("Bad query parameter value."),
    "404": error("Unknown model name."),
    "503": error("The model is not loaded (missing or corrupt in R2); the message says why."),
  };
  return {
    openapi: "3.1.0",
    info: {
      title: "resnet-edge",
      version: "1",
      description:
        "Image classification with a fully convolutional ResNet on Cloudflare Workers (onnxruntime-web wasm). Every /v1 error is JSON {error: {code, message}}; /v2 speaks the Open Inference Protocol (KServe v2), whose errors are {error: \"<message>\"}.",
    },
    paths: {
      "/v1/classify": {
        post: {
          summary: "Classify one image of any size",
          parameters: queryParams,
          requestBody: imageBody,
          responses: {
            "200": { description: "Top-k predictions", content: { "application/json": { schema: { $ref: "#/components/schemas/Classification" } } } },
            ...classifyErrors,
          },
        },
      },
      "/v1/classify/batch": {
        post: {
          summary: `Classify up to ${limits.maxBatch} images (MAX_BATCH) in one multipart request`,
          description: "One file field named `image` per image. Results come back in order; a bad image gets an error entry and the rest still succeed.",
          parameters: queryParams,
          requestBody: {
            required: true,
            content: {
              "multipart/form-data": {
                schema: { type: "object", required: ["image"], properties: { image: { type: "array", items: { type: "string", format: "binary" } } } },
              },
            },
          },
          responses: {
            "200": { description: "One result per image", content: { "application/json": { schema: { $ref: "#/components/schemas/BatchResult" } } } },
            ...classifyErrors,
            "413": error(`More than MAX_BATCH (${limits.maxBatch}) images, or body over MAX_BODY_BYTES (${limits.maxBodyBytes}).`),
            "415": error("The body is not multipart/form-data."),
          },
        },
      },
      "/v1/feedback": {
        post: {
          summary: "Store an image with its correct class (a known wnid or a new class name) for the next fine-tune",
          description:
            "Needs `Authorization: Bearer <FEEDBACK_TOKEN>` (a Worker secret; 503 when unset). The image must decode under the same rules as /v1/classify. " +
            "Stored in R2 as feedback/<label>/<sha256>.<jpg|png|webp>; the same bytes and label again store nothing (200, stored: false).",
          security: [{ bearer: [] }],
          parameters: [{ name: "label", in: "query", description: `Class: letters, digits, '_' or '-', 1-64 characters (or the form field "label").`, schema: { type: "string", pattern: "^[A-Za-z0-9_-]{1,64}$" } }],
          requestBody: {
            required: true,
            content: {
              ...imageBody.content,
              "multipart/form-data": {
                schema: { type: "object", required: ["image"], properties: { image: { type: "string", format: "binary" }, label: { type: "string" } } },
              },
            },
          },
          responses: {
            "201": { description: "Stored", content: { "application/json": { schema: { $ref: "#/components/schemas/FeedbackStored" } } } },
            "200": { description: "Already stored (same bytes and label)", content: { "application/json": { schema: { $ref: "#/components/schemas/FeedbackStored" } } } },
            ...classifyErrors,
            "401": error("Missing or wrong bearer token."),
            "422": error("Missing or invalid label, or unknown query parameter."),
            "503": error("Feedback is disabled: FEEDBACK_TOKEN is not set."),
          },
        },
        get: {
          summary: "List stored feedback, a page at a time (used by `trainer feedback pull`)",
          security: [{ bearer: [] }],
          parameters: [
            { name: "cursor", in: "query", schema: { type: "string" } },
            { name: "limit", in: "query", schema: { type: "integer", minimum: 1, maximum: 1000 } },
          ],
          responses: {
            "200": { description: "{objects: [{key, label, sha256, bytes, uploaded, receivedAt}], cursor: string | null}", content: { "application/json": { schema: { type: "object" } } } },
            "401": error("Missing or wrong bearer token."),
            "503": error("Feedback is disabled: FEEDBACK_TOKEN is not set."),
          },
        },
      },
      "/v1/feedback/{label}/{file}": {
        get: {
          summary: "One stored feedback image (key from the listing)",
          security: [{ bearer: [] }],
          parameters: [
            { name: "label", in: "path", required: true, schema: { type: "string" } },
            { name: "file", in: "path", required: true, schema: { type: "string" } },
          ],
          responses: { "200": { description: "The image bytes" }, "401": error("Missing or wrong bearer token."), "404": error("No such feedback object.") },
        },
      },
      "/v1/models": {
        get: {
          summary: "List models in the bucket with their load status",
          responses: { "200": { description: "Models", content: { "application/json": { schema: { type: "object" } } } } },
        },
      },
      "/v1/models/{name}": {
        get: {
          summary: "The model's manifest (classes, preprocessing, metrics, version) and load status",
          parameters: [{ name: "name", in: "path", required: true, schema: { type: "string" } }],
          responses: { "200": { description: "Manifest", content: { "application/json": { schema: { type: "object" } } } }, "404": error("Unknown model."), "503": error("Manifest unreadable.") },
        },
      },
      "/v1/openapi.json": { get: { summary: "This document", responses: { "200": { description: "OpenAPI 3.1" } } } },
      "/": { get: { summary: "The try-it page (same as /v1/ui): classify your own images in a browser", responses: { "200": page("text/html") } } },
      "/v1/ui": { get: { summary: "The try-it page: pick, drop, paste or photograph images; top-k bars, sizes, timings, warnings, batch, feedback", responses: { "200": page("text/html") } } },
      "/v1/ui/app.js": { get: { summary: "The page's script (no framework; talks only to this API)", responses: { "200": page("text/javascript") } } },
      "/v1/ui/app.css": { get: { summary: "The page's style sheet", responses: { "200": page("text/css") } } },
      "/healthz": { get: { summary: "Liveness: the isolate answers", responses: { "200": { description: "ok" } } } },
      "/readyz": {
        get: {
          summary: "Readiness: the default model is loaded (loads it if needed)",
          responses: { "200": { description: "ready" }, "503": error("No model loaded, with the reason.") },
        },
      },
      // The Open Inference Protocol (KServe v2); errors there are {"error": "<message>"}.
      ...v2Paths(limits),
    },
    components: {
      securitySchemes: { bearer: { type: "http", scheme: "bearer", description: "The FEEDBACK_TOKEN Worker secret" } },
      schemas: {
        ...v2Schemas,
        FeedbackStored: {
          type: "object",
          properties: {
            stored: { type: "boolean" },
            key: { type: "string", description: "feedback/<label>/<sha256>.<jpg|png|webp>" },
            sha256: { type: "string" },
            label: { type: "string" },
            format: { type: "string" },
            width: { type: "integer" },
            height: { type: "integer" },
            bytes: { type: "integer" },
          },
        },
        Error: {
          type: "object",
          required: ["error"],
          properties: { error: { type: "object", required: ["code", "message"], properties: { code: { type: "string" }, message: { type: "string" } } } },
        },
        Prediction: {
          type: "object",
          properties: { label: { type: "string" }, wnid: { type: "string" }, score: { type: "number", description: "softmax probability" } },
        },
        Input: {
          type: "object",
          properties: {
            format: { type: "string" },
            width: { type: "integer", description: "decoded image width (after EXIF orientation)" },
            height: { type: "integer" },
            tensor: { type: "object", properties: { height: { type: "integer" }, width: { type: "integer" } } },
          },
        },
        Timing: {
          type: "object",
          description: "Milliseconds. On Cloudflare the clock only advances on I/O, so these read 0 there.",
          properties: { decode: { type: "number" }, preprocess: { type: "number" }, inference: { type: "number" } },
        },
        Classification: {
          type: "object",
          properties: {
            predictions: { type: "array", items: { $ref: "#/components/schemas/Prediction" } },
            model: { type: "object", properties: { name: { type: "string" }, version: { type: "string" } } },
            input: { $ref: "#/components/schemas/Input" },
            timing: { $ref: "#/components/schemas/Timing" },
            warnings: {
              type: "array",
              items: { type: "string" },
              description: "Only when the decoder tolerated a flaw in the file (stray bytes before a marker, no end-of-image marker, bytes after it); the predictions stand.",
            },
          },
        },
        BatchResult: {
          type: "object",
          properties: {
            model: { type: "object", properties: { name: { type: "string" }, version: { type: "string" } } },
            results: {
              type: "array",
              items: {
                type: "object",
                description: "status 200 with predictions/input/timing, or the image's error status with error {code, message}",
                properties: {
                  index: { type: "integer" },
                  filename: { type: ["string", "null"] },
                  status: { type: "integer" },
                  predictions: { type: "array", items: { $ref: "#/components/schemas/Prediction" } },
                  input: { $ref: "#/components/schemas/Input" },
                  timing: { $ref: "#/components/schemas/Timing" },
                  error: { type: "object", properties: { code: { type: "string" }, message: { type: "string" } } },
                },
              },
            },
          },
        },
      },
    },
  };
}
