// The try-it page: GET / and /v1/ui serve the HTML, /v1/ui/app.js and /v1/ui/app.css its two assets.
// The page loads nothing from elsewhere and talks only to this worker's API, so the CSP can be strict:
// no inline script or style, no framing, no form submissions, fetch() to this origin only. Images
// shown back are blob: URLs of the user's own files.
import { Hono, type Context } from "hono";
import type { AppEnv } from "../env.ts";
import { APP_JS } from "../ui/app-js.ts";
import { APP_CSS, pageHtml } from "../ui/page.ts";

export const PAGE_CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' blob: data:",
  "connect-src 'self'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join("; ");

const SECURITY_HEADERS: Record<string, string> = {
  "content-security-policy": PAGE_CSP,
  "x-content-type-options": "nosniff",
  "referrer-policy": "no-referrer",
  "x-frame-options": "DENY",
  "cross-origin-opener-policy": "same-origin",
  // The page and its assets change together on deploy: revalidate instead of mixing versions.
  "cache-control": "no-cache",
};

function asset(c: Context<AppEnv>, body: string, contentType: string): Response {
  return c.body(body, 200, { ...SECURITY_HEADERS, "content-type": contentType });
}

export function uiRoutes(): Hono<AppEnv> {
  const r = new Hono<AppEnv>();
  const page = (c: Context<AppEnv>) => asset(c, pageHtml({ maxBatch: c.get("deps").limits.maxBatch }), "text/html; charset=utf-8");
  r.get("/", page);
  r.get("/v1/ui", page);
  r.get("/v1/ui/app.js", (c) => asset(c, APP_JS, "text/javascript; charset=utf-8"));
  r.get("/v1/ui/app.css", (c) => asset(c, APP_CSS, "text/css; charset=utf-8"));
  return r;
}
