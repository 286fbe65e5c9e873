// Reading image bytes from a request: a raw body (any image content type) or multipart/form-data.
// The body is read with a hard byte cap, so a missing or lying Content-Length cannot exhaust memory.
import { ApiError } from "./errors.ts";
import { boundaryOf, MultipartError, parseMultipart, type FormValue, type MultipartForm } from "./multipart.ts";

export interface ImagePart {
  /** Field name and file name, for error messages and batch results. */
  field: string;
  filename: string | null;
  bytes: Uint8Array | null;
  /** Why this part is not usable (e.g. a text field instead of a file). */
  problem: ApiError | null;
}

function tooLarge(limit: number, what: string): ApiError {
  return new ApiError(413, "body_too_large", `${what} exceeds the ${limit}-byte limit (MAX_BODY_BYTES): send a smaller image, or raise MAX_BODY_BYTES in wrangler.toml`);
}

/** Read the whole body, refusing more than `limit` bytes without buffering past it. */
export async function readCapped(req: Request, limit: number): Promise<Uint8Array> {
  const declared = Number(req.headers.get("content-length") ?? NaN);
  if (Number.isFinite(declared) && declared > limit) throw tooLarge(limit, `the body (${declared} bytes)`);
  if (!req.body) return new Uint8Array(0);
  const reader = req.body.getReader();
  // A body that arrives in one chunk is returned as it is. With a Content-Length, from the second chunk on
  // every chunk is copied into one buffer of that size as it arrives, so the body is held once (plus the
  // chunk in flight), not as chunks and then a joined copy (2x the body at the join).
  const canFill = Number.isInteger(declared) && declared > 0;
  let into: Uint8Array | null = null;
  const chunks: Uint8Array[] = [];
  let total = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    if (total + value.byteLength > limit) {
      await reader.cancel().catch(() => {});
      throw tooLarge(limit, "the body");
    }
    if (canFill && chunks.length === 1 && !into && total + value.byteLength <= declared) {
      into = new Uint8Array(declared);
      into.set(chunks.pop()!, 0);
    }
    if (into && total + value.byteLength <= into.length) into.set(value, total);
    else {
      // more than declared (or no Content-Length): keep chunks and join at the end
      if (into) chunks.push(into.subarray(0, total));
      into = null;
      chunks.push(value);
    }
    total += value.byteLength;
  }
  if (into) return total === into.length ? into : into.subarray(0, total);
  if (chunks.length === 1) return chunks[0]!;
  const out = new Uint8Array(total);
  let offset = 0;
  for (const c of chunks) {
    out.set(c, offset);
    offset += c.byteLength;
  }
  return out;
}

export function isMultipart(req: Request): boolean {
  return (req.headers.get("content-type") ?? "").toLowerCase().startsWith("multipart/form-data");
}

const NO_IMAGE = "send the image bytes as the body (Content-Type: image/jpeg, image/png or image/webp), or multipart/form-data with a file field named \"image\"";

function parseForm(req: Request, body: Uint8Array, usage: string): MultipartForm {
  try {
    return parseMultipart(body, boundaryOf(req.headers.get("content-type")!));
  } catch (e) {
    if (!(e instanceof MultipartError)) throw e;
    throw new ApiError(400, "bad_multipart", `the multipart/form-data body could not be parsed (${e.message}): ${usage}`);
  }
}

/** A multipart/form-data body, read under the byte cap; its parts are views into the one body buffer. `usage` ends the parse error: what to send. */
export async function readForm(req: Request, limit: number, usage = 'send the image as a file field named "image"'): Promise<MultipartForm> {
  return parseForm(req, await readCapped(req, limit), usage);
}

function toPart(field: string, value: FormValue): ImagePart {
  if (typeof value === "string") {
    return {
      field,
      filename: null,
      bytes: null,
      problem: new ApiError(400, "not_a_file", `form field "${field}" is text, not a file: upload the image as a file (curl -F ${field}=@photo.jpg)`),
    };
  }
  return { field, filename: value.filename || null, bytes: value.bytes, problem: null };
}

/** The bytes of the file field `image` of a form; `usage` ends the message when it is missing. */
export function formImage(form: MultipartForm, usage = NO_IMAGE): Uint8Array {
  const value = form.get("image");
  if (value === null) throw new ApiError(400, "missing_image", `the form has no field named "image": ${usage}`);
  const part = toPart("image", value);
  if (part.problem) throw part.problem;
  return part.bytes!;
}

/** One image: the raw body, or the multipart field `image`. */
export async function readSingleImage(req: Request, limit: number): Promise<Uint8Array> {
  if (!isMultipart(req)) {
    const body = await readCapped(req, limit);
    if (body.byteLength === 0) throw new ApiError(400, "missing_body", `the request has no body: ${NO_IMAGE}`);
    return body;
  }
  return formImage(await readForm(req, limit));
}

/** Every `image` field of a multipart body, in order. */
export async function readBatchImages(req: Request, limit: number, maxImages: number): Promise<ImagePart[]> {
  if (!isMultipart(req)) {
    throw new ApiError(415, "multipart_required", `a batch must be multipart/form-data with one file field named "image" per image (curl -F image=@a.jpg -F image=@b.png)`);
  }
  const form = await readForm(req, limit);
  const values = form.getAll("image");
  if (values.length === 0) throw new ApiError(400, "missing_image", `the form has no fields named "image": add one file field named "image" per image`);
  if (values.length > maxImages) {
    throw new ApiError(413, "batch_too_large", `the batch has ${values.length} images; the limit is ${maxImages} (MAX_BATCH): split it into several requests`);
  }
  return values.map((v) => toPart("image", v));
}
