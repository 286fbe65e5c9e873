// Peak memory of the PNG and WebP decode paths, per image size, for the per-format pixel limits in
// edge/src/limits.ts:
//   npx tsx bench/edge/decoder-peak.ts [MP,...]      (default 1,2.4,4,8,12)
// Needs cwebp (Debian package `webp`) and ../shared/data/imagenette.
//
// For each size and kind (PNG RGB 8-bit, PNG RGBA 8-bit, PNG RGB 16-bit, WebP lossy, WebP lossless with
// alpha) it reports:
// - wasmMiB: the decoder's wasm memory right after decoding, measured inside workerd (Miniflare, the
//   parity worker of test/shared/fixtures) through preprocess() at the default recipe, each size in a fresh
//   worker so earlier sizes do not leave a grown memory behind;
// - jsMiB: the JS buffers the same preprocess() call allocates, counted from the code (they are
//   transient, and a sampled heap figure cannot see the peak of synchronous code). preprocess() reads
//   opaque RGBA in place, so: PNG 8-bit without alpha: the RGBA copy out of wasm, 4 B/px; with alpha: + toRGB
//   (3 B/px) + the RGBX words the resize reads (4 B/px) = 11 B/px; 16-bit: + the 16-bit RGBA copy (8 B/px),
//   12 or 19 B/px; WebP: 4 B/px (opaque) or 11 B/px (alpha) of the *decoded* size, which shrink-on-load
//   makes 1/4 to 1/64 of the file's. Plus the resized RGBX (4 B per target pixel).
// - cpuMs (only with CPU=1; run it alone on an idle machine): workerd's CPU time for the request, from
//   /proc, after a first request with the same image has instantiated everything.
// The isolate budget for a request is then ORT heap + wasmMiB + jsMiB + body (edge/README.md).
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DEFAULT_PREPROCESS, targetSize } from "../../shared/src/index.ts";
import { shrinkDenominator } from "../../shared/src/ops/shrink-on-load.ts";
import { startWorker } from "../../test/helpers/workerd.ts";
import { childPids, processCpuMs } from "./cpu-time.ts";
import { png as makePng, webp as makeWebp } from "./big-images.ts";

const sizes = (process.argv[2] ?? "1,2.4,4,8,12").split(",").map(Number);
const only = process.argv[3]; // e.g. "png rgba16": one kind
const dir = mkdtempSync(join(tmpdir(), "decoder-peak-"));
const MiB = (b: number): number => Math.round((b / 2 ** 20) * 10) / 10;

/** kind, maker, JS bytes per decoded pixel (see the header comment) */
const kinds: [string, (w: number, h: number) => Uint8Array, number][] = [
  ["png rgb8", (w, h) => makePng(w, h, 3, 8), 4],
  ["png rgba8", (w, h) => makePng(w, h, 4, 8), 11],
  ["png rgb16", (w, h) => makePng(w, h, 3, 16), 12],
  ["png rgba16", (w, h) => makePng(w, h, 4, 16), 19],
  ["webp lossy", (w, h) => makeWebp(dir, w, h, false), 4],
  ["webp lossy+alpha", (w, h) => makeWebp(dir, w, h, false, true), 11],
  ["webp lossless+alpha", (w, h) => makeWebp(dir, w, h, true), 11],
];

const config = { ...DEFAULT_PREPROCESS, maxPixels: 100_000_000 };
const rows: Record<string, unknown>[] = [];
for (const mp of sizes) {
  const width = Math.round(Math.sqrt((mp * 1e6 * 4) / 3));
  const height = Math.round((width * 3) / 4);
  for (const [kind, make, jsPerPixel] of kinds) {
    if (only && kind !== only) continue;
    const bytes = make(width, height);
    const d = kind.startsWith("webp") ? shrinkDenominator(width, height, config.resize) : 1;
    const decoded = Math.ceil(width / d) * Math.ceil(height / d);
    const target = targetSize(width, height, config.resize);
    const held = decoded * jsPerPixel + target.width * target.height * 4;
    // wasm memory in workerd, in a fresh worker
    const before = new Set(childPids(process.pid, "workerd"));
    const worker = await startWorker({ entry: "test/shared/fixtures/parity-worker.ts" });
    const workerdPid = childPids(process.pid, "workerd").find((p) => !before.has(p));
    let wasm = NaN;
    let cpuMs: number | undefined;
    try {
      const send = () => worker.fetch(`/preprocess?config=${encodeURIComponent(JSON.stringify(config))}`, { method: "POST", body: bytes as Uint8Array<ArrayBuffer> });
      const res = await send();
      if (res.status !== 200) throw new Error(`${kind} ${width}x${height}: ${res.status} ${await res.text()}`);
      const mem = JSON.parse(res.headers.get("x-decoder-memory")!) as { png: number; webp: number };
      wasm = kind.startsWith("png") ? mem.png : mem.webp;
      await res.arrayBuffer();
      if (process.env.CPU === "1" && workerdPid) {
        const c0 = processCpuMs(workerdPid);
        await (await send()).arrayBuffer();
        cpuMs = Math.round(processCpuMs(workerdPid) - c0);
      }
    } finally {
      await worker.dispose();
    }
    const row = { kind, size: `${width}x${height}`, mp, shrink: `1/${d}`, bodyMiB: MiB(bytes.length), wasmMiB: MiB(wasm), jsMiB: MiB(held), totalMiB: MiB(wasm + held + bytes.length), ...(cpuMs === undefined ? {} : { cpuMs }) };
    rows.push(row);
    console.log(JSON.stringify(row));
  }
}
console.table(rows);
