import { Hono } from "hono";
import type { AppEnv } from "../app.ts";
import { classifyImage } from "../classify.ts";
import { readBatchImages, readSingleImage } from "../http/body.ts";
import { errorResponse, toApiError } from "../http/errors.ts";
import { parseClassifyQuery, resolveTopK } from "../http/query.ts";
import { waitUntilOf } from "./wait-until.ts";

export function classifyRoutes(): Hono<AppEnv> {
  const r = new Hono<AppEnv>();

  r.post("/classify", async (c) => {
    const { models, preprocess, limits } = c.get("deps");
    const query = parseClassifyQuery(new URL(c.req.url), limits.defaultModel);
    const bytes = await readSingleImage(c.req.raw, limits.maxBodyBytes);
    const result = await models.use(
      query.model,
      (model) => {
        const topK = resolveTopK(query.topK, model.manifest.classes.length);
        return classifyImage(model, bytes, { topK, size: query.size, maxPixels: limits.maxPixels, maxTensorPixels: limits.maxTensorPixels }, preprocess);
      },
      waitUntilOf(c),
    );
    return c.json(result);
  });

  // Up to MAX_BATCH images, one result per image in order; a bad image fails only its own entry.
  r.post("/classify/batch", async (c) => {
    const { models, preprocess, limits } = c.get("deps");
    const query = parseClassifyQuery(new URL(c.req.url), limits.defaultModel);
    const parts = await readBatchImages(c.req.raw, limits.maxBodyBytes, limits.maxBatch);
    const body = await models.use(
      query.model,
      async (model) => {
        const topK = resolveTopK(query.topK, model.manifest.classes.length);
        const results = [];
        for (const [index, part] of parts.entries()) {
          try {
            if (part.problem) throw part.problem;
            const r = await classifyImage(model, part.bytes!, { topK, size: query.size, maxPixels: limits.maxPixels, maxTensorPixels: limits.maxTensorPixels }, preprocess);
            results.push({ index, filename: part.filename, status: 200, predictions: r.predictions, input: r.input, timing: r.timing });
          } catch (e) {
            const api = toApiError(e);
            const res = api ? api.getResponse() : errorResponse(e);
            results.push({ index, filename: part.filename, status: res.status, ...((await res.json()) as object) });
          }
        }
        return { model: { name: model.name, version: model.version }, results };
      },
      waitUntilOf(c),
    );
    return c.json(body);
  });
  return r;
}
