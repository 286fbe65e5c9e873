// The newcomer's path: `npm start` (scripts/start.mjs) publishes the shipped model into a local R2 bucket
// and serves it with `wrangler dev`, offline. Run as a user would, in its own process group, with the
// bucket in a temporary folder.
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, readFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { validateManifest } from "@resnet-edge/shared";
import { repoRoot } from "../helpers/data.ts";
import { makeJpeg } from "../edge/helpers/images.ts";
import { wranglerVars } from "../edge/helpers/wrangler-vars.ts";

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const port = (server.address() as { port: number }).port;
  await new Promise((r) => server.close(r));
  return port;
}

describe("npm start", () => {
  let child: ChildProcess | undefined;
  let output = "";
  afterAll(() => {
    if (child?.pid) {
      try {
        process.kill(-child.pid, "SIGTERM");
      } catch {
        // already gone
      }
    }
  });

  it("serves the shipped model on localhost", { timeout: 180_000 }, async () => {
    const name = wranglerVars().DEFAULT_MODEL!;
    const manifest = validateManifest(JSON.parse(readFileSync(join(repoRoot, "models", name, "manifest.json"), "utf8")));
    const port = await freePort();
    const state = mkdtempSync(join(tmpdir(), "start-state-"));
    child = spawn(process.execPath, [join(repoRoot, "scripts/start.mjs"), "--port", String(port), "--persist-to", state], {
      cwd: repoRoot,
      detached: true,
      stdio: ["ignore", "pipe", "pipe"],
    });
    child.stdout!.on("data", (d) => (output += d));
    child.stderr!.on("data", (d) => (output += d));
    let exited: number | null = null;
    child.on("exit", (code) => (exited = code ?? -1));
    const base = `http://127.0.0.1:${port}`;
    let ready: { status: string; model: { name: string; version: string } } | undefined;
    for (let i = 0; i < 300 && !ready && exited === null; i++) {
      await new Promise((r) => setTimeout(r, 500));
      const res = await fetch(`${base}/readyz`).catch(() => null);
      if (res?.status === 200) ready = (await res.json()) as typeof ready;
    }
    expect(ready, `npm start did not become ready (exit ${exited}):\n${output}`).toBeDefined();
    expect(ready!.model).toEqual({ name, version: manifest.version });
    expect(output).toContain(`curl -s -X POST --data-binary @photo.jpg`);
    // The try-it page the output points a newcomer to.
    expect(output).toContain(`Open http://localhost:${port} in a browser`);
    const page = await fetch(`${base}/`);
    expect(page.status).toBe(200);
    expect(page.headers.get("content-type")).toMatch(/^text\/html/);
    expect(page.headers.get("content-security-policy")).toContain("script-src 'self'");
    expect(await page.text()).toContain('<script type="module" src="/v1/ui/app.js">');

    const res = await fetch(`${base}/v1/classify?top_k=3`, { method: "POST", body: (await makeJpeg(301, 207)) as BodyInit, headers: { "content-type": "image/jpeg" } });
    const body = (await res.json()) as { predictions: { wnid: string; score: number }[]; model: { name: string } };
    expect(res.status, JSON.stringify(body)).toBe(200);
    expect(body.model.name).toBe(name);
    expect(body.predictions).toHaveLength(3);
    expect(manifest.classes.map((c) => c.wnid)).toContain(body.predictions[0]!.wnid);
  });
});
