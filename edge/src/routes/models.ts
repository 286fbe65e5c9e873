import { stripLocalPaths } from "@resnet-edge/shared";
import { Hono } from "hono";
import type { AppEnv } from "../env.ts";
import { ApiError, echo } from "../http/errors.ts";
import { isValidModelName } from "../models/store.ts";

export function modelRoutes(): Hono<AppEnv> {
  const r = new Hono<AppEnv>();
  r.get("/models", async (c) => {
    const { models, limits } = c.get("deps");
    const names = await models.names();
    return c.json({
      default: limits.defaultModel,
      models: names.map((name) => ({ name, default: name === limits.defaultModel, status: models.status(name) })),
    });
  });
  // The manifest (classes, preprocessing, metrics, version) of the version serving, or of the active
  // version in R2 when this isolate has not loaded the model yet.
  r.get("/models/:name", async (c) => {
    const { models } = c.get("deps");
    const name = c.req.param("name");
    if (!isValidModelName(name)) throw new ApiError(404, "model_not_found", `${echo(name)} is not a model name; GET /v1/models lists the models`);
    const manifest = await models.manifest(name);
    // A manifest exported before the trainer stopped writing them may still name its training machine's
    // paths: this public route shows their last segments only.
    return c.json({ ...stripLocalPaths(manifest), status: models.status(name) });
  });
  return r;
}
