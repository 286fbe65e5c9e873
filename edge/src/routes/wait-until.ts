import type { Context } from "hono";
import type { WaitUntil } from "../models/registry.ts";

/** ctx.waitUntil when running as a worker; a no-op under app.request() without an execution context. */
export function waitUntilOf(c: Context): WaitUntil {
  try {
    const ctx = c.executionCtx;
    return (p) => ctx.waitUntil(p);
  } catch {
    return () => {};
  }
}
