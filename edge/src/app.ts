// The Hono app. Handlers stay thin (validate -> preprocess -> run -> respond); all errors go through
// one onError that turns them into JSON {error: {code, message}}.
import { Hono } from "hono";
import type { AppDeps } from "./deps.ts";
import type { AppEnv, Env } from "./env.ts";
import { ApiError, echo, errorResponse } from "./http/errors.ts";
import { classifyRoutes } from "./routes/classify.ts";
import { feedbackRoutes } from "./routes/feedback.ts";
import { healthRoutes } from "./routes/health.ts";
import { modelRoutes } from "./routes/models.ts";
import { openapiRoutes } from "./routes/openapi.ts";
import { uiRoutes } from "./routes/ui.ts";
import { serverMetadata, v2Routes } from "./routes/v2.ts";

/** `getDeps` is called per request with the bindings; the worker memoises it per isolate. */
export function createApp(getDeps: (env: Env) => AppDeps | Promise<AppDeps>): Hono<AppEnv> {
  const app = new Hono<AppEnv>();
  app.use(async (c, next) => {
    c.set("deps", await getDeps(c.env));
    await next();
  });
  app.route("/", healthRoutes());
  app.route("/v1", modelRoutes());
  app.route("/v1", classifyRoutes());
  app.route("/v1", feedbackRoutes());
  app.route("/v1", openapiRoutes());
  app.route("/", uiRoutes());
  // The Open Inference Protocol (KServe v2), errors in its own {"error": "..."} shape.
  app.get("/v2/", serverMetadata); // the YAML spells the server metadata path "/v2/"
  app.route("/v2", v2Routes());
  app.notFound((c) => errorResponse(new ApiError(404, "not_found", `no route ${c.req.method} ${echo(new URL(c.req.url).pathname)}; GET /v1/openapi.json describes the API`)));
  app.onError((err) => errorResponse(err));
  return app;
}
