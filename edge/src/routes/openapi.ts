import { Hono } from "hono";
import type { AppEnv } from "../env.ts";
import { openapiDocument } from "../openapi.ts";

export function openapiRoutes(): Hono<AppEnv> {
  const r = new Hono<AppEnv>();
  r.get("/openapi.json", (c) => c.json(openapiDocument(c.get("deps").limits)));
  return r;
}
