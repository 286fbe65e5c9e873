// Fast tier for the try-it page (routes/ui.ts): what the worker sends, through app.request(). What the
// page does with it is checked in a real browser by test/integration/page.test.ts.
import { describe, expect, it } from "vitest";
import { createApp } from "../../edge/src/app.ts";
import type { AppDeps } from "../../edge/src/deps.ts";
import { DEFAULT_LIMITS } from "../../edge/src/limits.ts";
import { PAGE_CSP } from "../../edge/src/routes/ui.ts";
import { APP_JS } from "../../edge/src/ui/app-js.ts";
import { APP_CSS } from "../../edge/src/ui/page.ts";

// The page routes read only the limits; a model registry that is never called.
const deps = { limits: { ...DEFAULT_LIMITS, maxBatch: 3 }, models: {}, preprocess: async () => ({}) } as unknown as AppDeps;
const app = createApp(() => deps);

describe("the try-it page", () => {
  it("GET / and /v1/ui serve the same HTML with a strict CSP and the security headers", async () => {
    const [root, ui] = await Promise.all([app.request("/"), app.request("/v1/ui")]);
    for (const res of [root, ui]) {
      expect(res.status).toBe(200);
      expect(res.headers.get("content-type")).toBe("text/html; charset=utf-8");
      expect(res.headers.get("x-content-type-options")).toBe("nosniff");
      expect(res.headers.get("referrer-policy")).toBe("no-referrer");
      expect(res.headers.get("x-frame-options")).toBe("DENY");
      const csp = res.headers.get("content-security-policy")!;
      expect(csp).toBe(PAGE_CSP);
      expect(csp).toContain("default-src 'none'");
      expect(csp).toContain("script-src 'self'");
      expect(csp).toContain("frame-ancestors 'none'");
      expect(csp).not.toMatch(/unsafe-inline|unsafe-eval|https?:|\*/);
    }
    const html = await root.text();
    expect(await ui.text()).toBe(html);
    // Nothing the CSP would block: no inline script or style, no handler attributes, nothing external.
    expect(html).not.toMatch(/<script(?![^>]*\bsrc=)[^>]*>/);
    expect(html).not.toMatch(/<style|\sstyle=|\son[a-z]+=/i);
    expect(html).not.toMatch(/(src|href)="(https?:)?\/\//);
    expect(html).toContain('<script type="module" src="/v1/ui/app.js">');
    expect(html).toContain('<link rel="stylesheet" href="/v1/ui/app.css">');
    // The camera on a phone, and several files at once from the picker.
    expect(html).toContain('<input id="camera" class="vh" type="file" accept="image/*" capture="environment">');
    expect(html).toContain('<input id="file" class="vh" type="file" accept="image/*" multiple>');
    // MAX_BATCH reaches the script.
    expect(html).toContain('data-max-batch="3"');
    // Every form control has a <label for>.
    const ids = [...html.matchAll(/<(?:input|select)\b[^>]*\bid="([^"]+)"/g)].map((m) => m[1]!);
    expect(ids.length).toBeGreaterThanOrEqual(8);
    for (const id of ids) expect(html, `control #${id} has no label`).toContain(`<label for="${id}"`);
  });

  it("serves its script and style sheet with their types, and the script parses", async () => {
    const js = await app.request("/v1/ui/app.js");
    expect(js.status).toBe(200);
    expect(js.headers.get("content-type")).toBe("text/javascript; charset=utf-8");
    expect(js.headers.get("x-content-type-options")).toBe("nosniff");
    expect(await js.text()).toBe(APP_JS);
    expect(() => new Function(APP_JS)).not.toThrow();
    // The token is kept in a variable, never written anywhere that outlives the page.
    expect(APP_JS).not.toMatch(/localStorage|sessionStorage|document\.cookie|indexedDB|history\.(push|replace)State|location\.(hash|search)\s*=/);
    const css = await app.request("/v1/ui/app.css");
    expect(css.status).toBe(200);
    expect(css.headers.get("content-type")).toBe("text/css; charset=utf-8");
    expect(await css.text()).toBe(APP_CSS);
  });

  it("stays small: page, script and style under 30 KB together", async () => {
    const sizes = await Promise.all(["/", "/v1/ui/app.js", "/v1/ui/app.css"].map(async (p) => (await (await app.request(p)).arrayBuffer()).byteLength));
    expect(sizes.reduce((a, b) => a + b, 0)).toBeLessThan(30 * 1024);
  });

  it("is listed in /v1/openapi.json", async () => {
    const doc = (await (await app.request("/v1/openapi.json")).json()) as { paths: Record<string, { get?: unknown }> };
    for (const p of ["/", "/v1/ui", "/v1/ui/app.js", "/v1/ui/app.css"]) expect(doc.paths[p]?.get, p).toBeDefined();
  });
});
