// The Open Inference Protocol (KServe v2) inference request: JSON in, a checked request out. Pure
// functions; `parseInferRequest` needs no model, `checkAgainstModel` checks it against the manifest.
// Every refusal is an OipError (400, or 413 for our limits) whose message names the field and the fix.
import type { ModelManifest } from "@resnet-edge/shared";
import { OipError } from "./errors.ts";

/** An FP32 tensor input: row-major data, any shape the model accepts. */
export interface TensorInput {
  kind: "tensor";
  name: string;
  shape: number[];
  data: Float32Array;
}

/** A BYTES input: one encoded image (JPEG/PNG) per batch element. */
export interface ImageInput {
  kind: "images";
  name: string;
  shape: number[];
  images: Uint8Array[];
}

export interface RequestedOutput {
  name: string;
  /** The classification extension: return the top `classification` classes instead of the tensor. */
  classification: number | null;
}

export interface InferRequest {
  id: string | undefined;
  input: TensorInput | ImageInput;
  /** Empty: every output, as tensors. */
  outputs: RequestedOutput[];
}

export interface RequestLimits {
  /** MAX_BATCH: batch elements per request. */
  maxBatch: number;
  /** MAX_TENSOR_PIXELS: H*W of one element. */
  maxTensorPixels: number;
}

const isObject = (x: unknown): x is Record<string, unknown> => typeof x === "object" && x !== null && !Array.isArray(x);
const bad = (message: string) => new OipError(400, message);

export function parseJsonBody(body: Uint8Array): unknown {
  if (body.byteLength === 0) throw bad('the request has no body: send an inference request as JSON, {"inputs": [{"name", "shape", "datatype", "data"}]}');
  try {
    return JSON.parse(new TextDecoder().decode(body));
  } catch (e) {
    throw bad(`the body is not valid JSON (${(e as Error).message}): send an inference request object, {"inputs": [...]}`);
  }
}

function shapeOf(x: unknown, path: string): number[] {
  if (!Array.isArray(x) || x.length === 0) throw bad(`${path}.shape must be a non-empty array of dimension sizes, got ${JSON.stringify(x)?.slice(0, 80)}`);
  return x.map((d, i) => {
    if (typeof d !== "number" || !Number.isInteger(d) || d < 0) throw bad(`${path}.shape[${i}] must be a non-negative integer, got ${JSON.stringify(d)}`);
    return d;
  });
}

/**
 * Walk `data` (flat or nested arrays, row-major) calling `each` per element, refusing more than
 * `expected` elements before reading further, so a lying shape cannot make the worker buffer more.
 */
function walkData(data: unknown, expected: number, path: string, each: (v: unknown, i: number) => void): void {
  if (!Array.isArray(data)) throw bad(`${path}.data must be an array (flat or nested, row-major), got ${typeof data}`);
  let count = 0;
  const stack: unknown[][] = [data];
  const index: number[] = [0];
  while (stack.length > 0) {
    const top = stack[stack.length - 1]!;
    const i = index[index.length - 1]!;
    if (i >= top.length) {
      stack.pop();
      index.pop();
      continue;
    }
    index[index.length - 1] = i + 1;
    const v = top[i];
    if (Array.isArray(v)) {
      if (stack.length > 64) throw bad(`${path}.data is nested more than 64 deep`);
      stack.push(v);
      index.push(0);
      continue;
    }
    if (count >= expected) throw bad(`${path}.data has more elements than its shape's ${expected}: the data must hold exactly the product of the shape's dimensions`);
    each(v, count++);
  }
  if (count !== expected) throw bad(`${path}.data has ${count} elements but its shape holds ${expected}: the data must hold exactly the product of the shape's dimensions`);
}

const BASE64_RE = /^[A-Za-z0-9+/_-]*={0,2}$/;

/**
 * One BYTES element as bytes. JSON has no binary type, so an element is either base64 (standard or
 * URL-safe, what KServe/MLServer clients send) or a "raw" string whose code points are the bytes
 * (0-255; what a byte string serialised as Latin-1 looks like). Encoded images cannot be mistaken for
 * each other: JPEG and PNG start with bytes (0xFF, 0x89) outside the base64 alphabet.
 */
export function bytesElement(s: string, path: string): Uint8Array {
  const compact = s.replace(/\s+/g, "");
  if (BASE64_RE.test(compact) && compact.length > 0) {
    const std = compact.replace(/-/g, "+").replace(/_/g, "/");
    try {
      const bin = atob(std.padEnd(Math.ceil(std.length / 4) * 4, "="));
      return Uint8Array.from(bin, (c) => c.charCodeAt(0));
    } catch {
      throw bad(`${path} is not valid base64: send each image as a base64 string`);
    }
  }
  const out = new Uint8Array(s.length);
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c > 255) throw bad(`${path} is neither base64 nor a byte string (character ${i} is U+${c.toString(16).toUpperCase().padStart(4, "0")}): send each image base64-encoded`);
    out[i] = c;
  }
  return out;
}

function parseInput(x: unknown, limits: RequestLimits): TensorInput | ImageInput {
  const path = "inputs[0]";
  if (!isObject(x)) throw bad(`${path} must be an object {"name", "shape", "datatype", "data"}`);
  if (typeof x.name !== "string" || x.name === "") throw bad(`${path}.name must be the input's name (a string); GET /v2/models/<name> lists it`);
  const shape = shapeOf(x.shape, path);
  const datatype = x.datatype;
  if (datatype === "FP32") {
    if (shape.length !== 4) throw bad(`${path}.shape is [${shape}]; an FP32 input is a 4-D [N, C, H, W] tensor`);
    const [n, , h, w] = shape as [number, number, number, number];
    if (n > limits.maxBatch) throw new OipError(413, `${path} has a batch of ${n}; the limit is ${limits.maxBatch} (MAX_BATCH): split it into several requests`);
    if (h * w > limits.maxTensorPixels) {
      throw new OipError(413, `${path} is ${h}x${w} (${h * w} pixels per image); the limit is ${limits.maxTensorPixels} (MAX_TENSOR_PIXELS): send a smaller tensor`);
    }
    const count = shape.reduce((a, b) => a * b, 1);
    if (count === 0) throw bad(`${path}.shape [${shape}] has a zero dimension: send at least one element`);
    const data = new Float32Array(count);
    walkData(x.data, count, path, (v, i) => {
      if (typeof v !== "number" || !Number.isFinite(v)) throw bad(`${path}.data[${i}] (row-major) must be a finite number, got ${JSON.stringify(v)}`);
      data[i] = v;
    });
    return { kind: "tensor", name: x.name, shape, data };
  }
  if (datatype === "BYTES") {
    if (!(shape.length === 1 || (shape.length === 2 && shape[1] === 1))) {
      throw bad(`${path}.shape is [${shape}]; a BYTES image input has shape [N] (or [N, 1]): one encoded image per batch element`);
    }
    const n = shape[0]!;
    if (n === 0) throw bad(`${path}.shape [${shape}] holds no image: send at least one`);
    if (n > limits.maxBatch) throw new OipError(413, `${path} has ${n} images; the limit is ${limits.maxBatch} (MAX_BATCH): split them into several requests`);
    const images: Uint8Array[] = [];
    walkData(x.data, n, path, (v, i) => {
      if (typeof v !== "string") throw bad(`${path}.data[${i}] must be a string (the image, base64-encoded), got ${typeof v}`);
      images.push(bytesElement(v, `${path}.data[${i}]`));
    });
    return { kind: "images", name: x.name, shape, images };
  }
  throw bad(
    `${path}.datatype ${JSON.stringify(datatype)} is not supported: send "FP32" (the model's [N, C, H, W] tensor) or "BYTES" (encoded JPEG/PNG images, base64, shape [N])`,
  );
}

function parseOutputs(x: unknown): RequestedOutput[] {
  if (x === undefined) return [];
  if (!Array.isArray(x)) throw bad(`outputs must be an array of {"name"}, got ${typeof x}`);
  return x.map((o, i) => {
    if (!isObject(o) || typeof o.name !== "string") throw bad(`outputs[${i}] must be an object {"name": <output name>}`);
    let classification: number | null = null;
    if (o.parameters !== undefined) {
      if (!isObject(o.parameters)) throw bad(`outputs[${i}].parameters must be an object`);
      if (o.parameters.binary_data === true) throw bad(`outputs[${i}].parameters.binary_data: the binary tensor extension is not supported; the output comes back as JSON`);
      const k = o.parameters.classification;
      if (k !== undefined) {
        if (typeof k !== "number" || !Number.isInteger(k) || k < 1) throw bad(`outputs[${i}].parameters.classification must be a positive integer (how many classes), got ${JSON.stringify(k)}`);
        classification = k;
      }
    }
    return { name: o.name, classification };
  });
}

/** Structure and limits that need no model. */
export function parseInferRequest(json: unknown, limits: RequestLimits): InferRequest {
  if (!isObject(json)) throw bad('the body must be a JSON object {"inputs": [...]}');
  if (json.id !== undefined && typeof json.id !== "string") throw bad(`id must be a string, got ${JSON.stringify(json.id)}`);
  if (json.parameters !== undefined && !isObject(json.parameters)) throw bad("parameters must be an object");
  if (!Array.isArray(json.inputs) || json.inputs.length === 0) throw bad('inputs must be a non-empty array: {"inputs": [{"name", "shape", "datatype", "data"}]}');
  if (json.inputs.length > 1) throw bad(`the request has ${json.inputs.length} inputs; these models take one (an FP32 tensor, or BYTES images)`);
  return { id: json.id as string | undefined, input: parseInput(json.inputs[0], limits), outputs: parseOutputs(json.outputs) };
}

/** The request against what the model declares: input name and dims, output names, class count. */
export function checkAgainstModel(req: InferRequest, manifest: ModelManifest): void {
  const spec = manifest.inputs[0]!;
  const outName = manifest.outputs[0]!.name;
  for (const o of req.outputs) {
    if (o.name !== outName) throw bad(`the model has no output ${JSON.stringify(o.name)}; its output is ${JSON.stringify(outName)}`);
    if (o.classification !== null && o.classification > manifest.classes.length) {
      throw bad(`outputs[].parameters.classification is ${o.classification} but the model has ${manifest.classes.length} classes`);
    }
  }
  if (req.input.kind === "images") return;
  const { name, shape } = req.input;
  if (name !== spec.name) throw bad(`the model has no input ${JSON.stringify(name)}; its FP32 input is ${JSON.stringify(spec.name)} (or send images as a BYTES input)`);
  spec.dims.forEach((d, i) => {
    // A batch fixed at 1 still takes a batch of N: the elements run one after another.
    if (i === 0 && d === 1) return;
    if (typeof d === "number" && shape[i] !== d) {
      const what = ["batch", "channel", "height", "width"][i] ?? `dim ${i}`;
      throw bad(`inputs[0].shape is [${shape}] but the model's ${what} is fixed at ${d} (shape [${spec.dims.map((x) => (typeof x === "number" ? x : -1))}], -1 = any)`);
    }
  });
}
