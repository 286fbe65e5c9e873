// Feedback: a user says "this image is <class>" (a known wnid or a new name). The image is checked with
// the same decoder and limits as classify, then kept in R2 (feedback/store.ts) for the next fine-tune.
// Every feedback route needs `Authorization: Bearer <FEEDBACK_TOKEN>` (a Worker secret).
import { CLASS_ID_RULE, decodeImage, DEFAULT_PREPROCESS, FEEDBACK_KEY_RE, isValidClassId, suggestClassId, type ModelManifest } from "@resnet-edge/shared";
import { Hono, type Context } from "hono";
import { planRequest } from "../classify.ts";
import { PIXEL_LIMIT_VARS } from "../limits.ts";
import type { AppDeps } from "../deps.ts";
import type { AppEnv } from "../env.ts";
import { listFeedback, storeFeedback, type FeedbackBucket } from "../feedback/store.ts";
import { requireBearer } from "../http/bearer.ts";
import { formImage, isMultipart, readForm, readSingleImage } from "../http/body.ts";
import { ApiError, echo } from "../http/errors.ts";
import { parseFeedbackListQuery, parseFeedbackQuery } from "../http/query.ts";

async function authorize(c: Context<AppEnv>): Promise<FeedbackBucket> {
  await requireBearer(c.req.header("authorization"), c.env.FEEDBACK_TOKEN, "FEEDBACK_TOKEN", "feedback");
  return c.env.MODELS;
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
    throw invalidLabel(`label ${echo(raw)} is not a valid class name (${CLASS_ID_RULE})${hint ? `: send ${hint}` : ""}`);
  }
  return raw;
}

/** The image and its label: raw body + ?label=, or multipart with a file field "image" and a field "label". */
async function readFeedback(req: Request, maxBodyBytes: number): Promise<{ bytes: Uint8Array; label: string }> {
  const fromQuery = parseFeedbackQuery(new URL(req.url)).label;
  if (!isMultipart(req)) {
    const label = checkLabel(fromQuery);
    return { bytes: await readSingleImage(req, maxBodyBytes), label };
  }
  const form = await readForm(req, maxBodyBytes, 'send a file field "image" and a field "label"');
  const field = form.get("label");
  const fromForm = typeof field === "string" ? field : null;
  if (fromForm !== null && fromQuery !== null && fromForm !== fromQuery) {
    throw invalidLabel(`the form says label ${echo(fromForm)} but the query says ${echo(fromQuery)}: send one`);
  }
  const label = checkLabel(fromForm ?? fromQuery);
  return { bytes: formImage(form, "add the image as a file field (curl -F image=@photo.jpg -F label=...)"), label };
}

/**
 * Refuse what classify would refuse, with the same status and code: the image as the default model would
 * see it at size=default (the size a fine-tune trains at). Without a published default model, the
 * shared default preprocessing stands in.
 */
async function admitFeedback(deps: AppDeps, bytes: Uint8Array): Promise<void> {
  const { models, limits } = deps;
  const manifest = await models.manifest(limits.defaultModel).catch(() => ({ preprocess: DEFAULT_PREPROCESS, inputs: [] as ModelManifest["inputs"] }) as ModelManifest);
  planRequest(manifest, bytes, { size: "default", decodeLimits: limits.decode, limitVars: PIXEL_LIMIT_VARS, maxTensorPixels: limits.maxTensorPixels });
}

export function feedbackRoutes(): Hono<AppEnv> {
  const r = new Hono<AppEnv>();

  // 201 {stored: true, key} the first time, 200 {stored: false, key} for the same bytes and label again.
  r.post("/feedback", async (c) => {
    const bucket = await authorize(c);
    const deps = c.get("deps");
    const { limits } = deps;
    const { bytes, label } = await readFeedback(c.req.raw, limits.maxBodyBytes);
    // Refuse what classify would refuse, with the same codes (one admission path): the stored set only holds
    // images classify accepts and the trainer's decoder (the same one) reads.
    await admitFeedback(deps, bytes);
    const image = await decodeImage(bytes, { maxPixels: Math.max(...Object.values(limits.decode.maxPixels)), limits: limits.decode });
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
    return c.json(await listFeedback(bucket, parseFeedbackListQuery(new URL(c.req.url))));
  });

  // One stored image, by the key the listing gave.
  r.get("/feedback/:label/:file", async (c) => {
    const bucket = await authorize(c);
    const key = `feedback/${c.req.param("label")}/${c.req.param("file")}`;
    const notFound = new ApiError(404, "feedback_not_found", `no feedback object ${echo(key)}: GET /v1/feedback lists the stored keys`);
    if (!FEEDBACK_KEY_RE.test(key)) throw notFound;
    const obj = await bucket.get(key);
    if (!obj) throw notFound;
    return new Response(obj.body, { headers: { "content-type": obj.httpMetadata?.contentType ?? "application/octet-stream", "content-length": String(obj.size) } });
  });
  return r;
}
