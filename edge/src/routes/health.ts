import { Hono } from "hono";
import type { AppEnv } from "../env.ts";
import { ApiError } from "../http/errors.ts";
import { ModelUnavailableError } from "../models/registry.ts";
import { waitUntilOf } from "./wait-until.ts";

export function healthRoutes(): Hono<AppEnv> {
  const r = new Hono<AppEnv>();
  // Liveness: the isolate answers. Touches neither R2 nor the model.
  r.get("/healthz", (c) => c.json({ status: "ok" }));
  // Readiness: the default model is loaded (loading it if needed), else 503 with the reason.
  r.get("/readyz", async (c) => {
    const { models, limits, memory } = c.get("deps");
    const name = limits.defaultModel;
    let version: string;
    try {
      version = await models.use(name, async (m) => m.version, waitUntilOf(c));
    } catch (e) {
      // Not ready is always a 503, including "the default model does not exist".
      if (e instanceof ModelUnavailableError) throw new ApiError(503, e.code, `not ready: ${e.message}`);
      throw e;
    }
    const status = models.status(name);
    return c.json({ status: "ready", model: { name, version }, loading: status.loading, lastError: status.lastError, memory: memory?.() ?? null });
  });
  return r;
}
