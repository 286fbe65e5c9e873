// Feedback: a user says "this image is <class>" (a known wnid or a new name). The image is checked with
// the same decoder and limits as classify, then kept in R2 (feedback/store.ts) for the next fine-tune.
// Every feedback route needs `Authorization: Bearer <FEEDBACK_TOKEN>` (a Worker secret).
import { CLASS_ID_RULE, decodeImage, FEEDBACK_KEY_RE, isValidClassId, readImageHeader, suggestClassId } from "@resnet-edge/shared";
import { Hono, type Context } from "hono";
import type { AppEnv } from "../app.ts";
import { listFeedback, storeFeedback, type FeedbackBucket } from "../feedback/store.ts";
import { requireBearer } from "../http/bearer.ts";
import { readCapped, readSingleImage } from "../http/body.ts";
import { ApiError } from "../http/errors.ts";
import { pixelLimitFor } from "../limits.ts";

/** The bindings feedback reads beyond Env's: the secret, and the bucket's write methods. */
interface FeedbackBindings {
  MODELS: FeedbackBucket;
  FEEDBACK_TOKEN?: string;
}

const bindings = (c: Context<AppEnv>) => c.env as unknown as FeedbackBindings;

async function authorize(c: Context<AppEnv>): Promise<FeedbackBucket> {
  const env = bindings(c);
  await requireBearer(c.req.header("authorization"), env.FEEDBACK_TOKEN, "FEEDBACK_TOKEN", "feedback");
  return env.MODELS;
}

function invalidLabel(message: string): ApiError {
  return new ApiError(422, "invalid_label", message);
}

export function checkLabel(raw: string | null): string {
  if (raw === null || raw === "") {
    throw invalidLabel('feedback needs a class label: ?label=<class> or a form field "label" (a wnid such as n03888257, or a new class name)');
  }
  if (!isValidClassId(raw)) {
    const hint = suggestClassId(raw);
    throw invalidLabel(`label ${JSON.stringify(raw.slice(0, 80))} is not a valid class name (${CLASS_ID_RULE})${hint ? `: send ${hint}` : ""}`);
  }
  return raw;
}

function queryLabel(url: URL): string | null {
  for (const key of url.searchParams.keys()) {
    if (key !== "label") throw new ApiError(422, "invalid_query", `query parameter ${key}: unknown parameter (allowed: label)`);
  }
  if (url.searchParams.getAll("label").length > 1) throw new ApiError(422, "invalid_query", "query parameter label: given more than once");
  return url.searchParams.get("label");
}

/** The image and its label: raw body + ?label=, or multipart with a file field "image" and a field "label". */
async function readFeedback(req: Request, maxBodyBytes: number): Promise<{ bytes: Uint8Array; label: string }> {
  const fromQuery = queryLabel(new URL(req.url));
  if (!(req.headers.get("content-type") ?? "").toLowerCase().startsWith("multipart/form-data")) {
    const label = checkLabel(fromQuery);
    return { bytes: await readSingleImage(req, maxBodyBytes), label };
  }
  const body = await readCapped(req, maxBodyBytes);
  let form: FormData;
  try {
    form = await new Response(body as Uint8Array<ArrayBuffer>, { headers: { "content-type": req.headers.get("content-type")! } }).formData();
  } catch (e) {
    throw new ApiError(400, "bad_multipart", `the multipart/form-data body could not be parsed (${(e as Error).message}): send a file field "image" and a field "label"`);
  }
  const field = form.get("label") as File | string | null;
  const fromForm = typeof field === "string" ? field : null;
  if (fromForm !== null && fromQuery !== null && fromForm !== fromQuery) {
    throw invalidLabel(`the form says label ${JSON.stringify(fromForm)} but the query says ${JSON.stringify(fromQuery)}: send one`);
  }
  const label = checkLabel(fromForm ?? fromQuery);
  // workers-types declares FormData values as strings; at runtime a file field is a File.
  const image = form.get("image") as File | string | null;
  if (image === null) throw new ApiError(400, "missing_image", 'the form has no field named "image": add the image as a file field (curl -F image=@photo.jpg -F label=...)');
  if (typeof image === "string") throw new ApiError(400, "not_a_file", 'form field "image" is text, not a file: upload the image as a file (curl -F image=@photo.jpg)');
  return { bytes: new Uint8Array(await image.arrayBuffer()), label };
}

export function feedbackRoutes(): Hono<AppEnv> {
  const r = new Hono<AppEnv>();

  // 201 {stored: true, key} the first time, 200 {stored: false, key} for the same bytes and label again.
  r.post("/feedback", async (c) => {
    const bucket = await authorize(c);
    const { limits } = c.get("deps");
    const { bytes, label } = await readFeedback(c.req.raw, limits.maxBodyBytes);
    // Refuse what classify would refuse, with the same codes: the stored set only holds images the
    // trainer's decoder (the same one) can read.
    const image = await decodeImage(bytes, { maxPixels: pixelLimitFor(limits, readImageHeader(bytes).decodePath).pixels });
    const res = await storeFeedback(bucket, bytes, {
      label,
      format: image.format,
      width: image.width,
      height: image.height,
      contentType: c.req.header("content-type") ?? "",
    });
    return c.json({ ...res, label, format: image.format, width: image.width, height: image.height, bytes: bytes.byteLength }, res.stored ? 201 : 200);
  });

  // The stored feedback, one page at a time: {objects: [{key, label, sha256, bytes, uploaded, receivedAt}], cursor}.
  r.get("/feedback", async (c) => {
    const bucket = await authorize(c);
    const url = new URL(c.req.url);
    for (const key of url.searchParams.keys()) {
      if (key !== "cursor" && key !== "limit") throw new ApiError(422, "invalid_query", `query parameter ${key}: unknown parameter (allowed: cursor, limit)`);
    }
    const rawLimit = url.searchParams.get("limit");
    if (rawLimit !== null && !(/^\d+$/.test(rawLimit) && Number(rawLimit) >= 1 && Number(rawLimit) <= 1000)) {
      throw new ApiError(422, "invalid_query", `query parameter limit: must be an integer 1..1000, got ${JSON.stringify(rawLimit)}`);
    }
    const cursor = url.searchParams.get("cursor");
    return c.json(await listFeedback(bucket, { ...(cursor ? { cursor } : {}), ...(rawLimit ? { limit: Number(rawLimit) } : {}) }));
  });

  // One stored image, by the key the listing gave.
  r.get("/feedback/:label/:file", async (c) => {
    const bucket = await authorize(c);
    const key = `feedback/${c.req.param("label")}/${c.req.param("file")}`;
    const notFound = new ApiError(404, "feedback_not_found", `no feedback object ${key}: GET /v1/feedback lists the stored keys`);
    if (!FEEDBACK_KEY_RE.test(key)) throw notFound;
    const obj = await bucket.get(key);
    if (!obj) throw notFound;
    return new Response(obj.body, { headers: { "content-type": obj.httpMetadata?.contentType ?? "application/octet-stream", "content-length": String(obj.size) } });
  });
  return r;
}
