import { Hono } from "hono";
import { holdDecoderInstances } from "@resnet-edge/shared";
import type { AppEnv } from "../env.ts";
import { classifyImage } from "../classify.ts";
import { PIXEL_LIMIT_VARS } from "../limits.ts";
import { readBatchImages, readSingleImage } from "../http/body.ts";
import { errorStatusBody } from "../http/errors.ts";
import { parseClassifyQuery, resolveTopK, type ClassifyQuery } from "../http/query.ts";
import { ModelUnavailableError } from "../models/registry.ts";
import { waitUntilOf } from "./wait-until.ts";

/**
 * An unknown model the client named is its mistake (404). The default model being unpublished is the
 * service's state: 503, "no model is loaded", with what the operator should do.
 */
function unavailableDefault(e: unknown, query: ClassifyQuery): unknown {
  if (e instanceof ModelUnavailableError && e.status === 404 && !query.modelNamed) {
    return new ModelUnavailableError(
      503,
      "no_model_loaded",
      `no model is loaded: the default model "${query.model}" has not been published (models/${query.model}/active.json is missing); publish one with \`npm run trainer -- publish\` or set DEFAULT_MODEL`,
    );
  }
  return e;
}

export function classifyRoutes(): Hono<AppEnv> {
  const r = new Hono<AppEnv>();

  r.post("/classify", async (c) => {
    const { models, preprocess, limits } = c.get("deps");
    const query = parseClassifyQuery(new URL(c.req.url), limits.defaultModel);
    const bytes = await readSingleImage(c.req.raw, limits.maxBodyBytes);
    const result = await models
      .use(
        query.model,
        (model) => {
          const topK = resolveTopK(query.topK, model.manifest.classes.length);
          return classifyImage(model, bytes, { topK, size: query.size, tta: query.tta, decodeLimits: limits.decode, limitVars: PIXEL_LIMIT_VARS, maxTensorPixels: limits.maxTensorPixels }, preprocess);
        },
        waitUntilOf(c),
      )
      .catch((e: unknown) => Promise.reject(unavailableDefault(e, query)));
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
        const results: Record<string, unknown>[] = [];
        // One decoder instance per codec for the whole batch: instances dropped after each large image would
        // all stay alive until V8 collects them (shared/src/codecs/instance-hold.ts).
        await holdDecoderInstances(async () => {
          for (const [index, part] of parts.entries()) {
            try {
              if (part.problem) throw part.problem;
              const r = await classifyImage(model, part.bytes!, { topK, size: query.size, tta: query.tta, decodeLimits: limits.decode, limitVars: PIXEL_LIMIT_VARS, maxTensorPixels: limits.maxTensorPixels }, preprocess);
              results.push({ index, filename: part.filename, status: 200, predictions: r.predictions, input: r.input, ...(r.tta ? { tta: r.tta } : {}), timing: r.timing, ...(r.warnings ? { warnings: r.warnings } : {}) });
            } catch (e) {
              const { status, body } = errorStatusBody(e);
              results.push({ index, filename: part.filename, status, ...body });
            } finally {
              part.bytes = null; // this image's bytes can go before the next image is decoded
            }
          }
        });
        return { model: { name: model.name, version: model.version }, results };
      },
      waitUntilOf(c),
    ).catch((e: unknown) => Promise.reject(unavailableDefault(e, query)));
    return c.json(body);
  });
  return r;
}
