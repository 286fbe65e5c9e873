// Parity: the same bytes through preprocess() in Node and inside real workerd (Miniflare, bundled by
// wrangler exactly as for deploy) give bit-identical Float32Arrays, for JPEG (baseline, progressive by libjpeg
// and by the DC-only decoder, gray, EXIF-rotated, CMYK/YCCK), PNG (alpha, palette + tRNS, 16-bit, interlaced)
// and several recipes.
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DEFAULT_PREPROCESS, preprocess, type PreprocessConfig, type TensorLayout } from "../../shared/src/index.ts";
import { initCodecs } from "../../shared/src/runtime/node.ts";
import { DATA_DIR, ODDIMAGES_DIR, hasImagenette, hasOddImages, needs } from "../helpers/data.ts";
import { startWorker, type WorkerHandle } from "../helpers/workerd.ts";
import { spin } from "./fixtures/spin.ts";
import { encodePng } from "./helpers/png-encode.ts";
import { hasWebpTools, makeWebp } from "./helpers/webp-files.ts";

type TeamData = "imagenette" | "oddimages";

const SHIPPED_RECIPE: PreprocessConfig = { ...DEFAULT_PREPROCESS, resize: { mode: "shortest-edge", size: 64 }, crop: [64, 64] };

// `data`: the team data a case reads (it skips without it); cases without `data` make their own bytes.
// `scale`: the JPEG/WebP shrink-on-load reduction the case must take (asserted in Node; the worker's
// x-source header must match it too), so the scaled decodes 1/2, 1/4 and 1/8 are all compared.
const CASES: { name: string; data?: TeamData; bytes: () => Uint8Array | Promise<Uint8Array>; config: PreprocessConfig; layout?: TensorLayout; scale?: number }[] = [
  { name: "Imagenette JPEG, default recipe", data: "imagenette", bytes: () => data("imagenette/val/n03888257/ILSVRC2012_val_00001440.JPEG"), config: DEFAULT_PREPROCESS },
  {
    name: "Imagenette JPEG, shortest-edge 160 + crop 128, NHWC",
    data: "imagenette",
    bytes: () => data("imagenette/train/n01440764/" + firstFile("imagenette/train/n01440764")),
    config: { ...DEFAULT_PREPROCESS, resize: { mode: "shortest-edge", size: 160 }, crop: [128, 128] },
    layout: "NHWC",
  },
  { name: "EXIF orientation 6 photo, decoded at 1/4", data: "oddimages", bytes: () => data("oddimages/exiforient__Landscape_6.jpg"), config: DEFAULT_PREPROCESS, scale: 4 },
  { name: "768x1024 photo, decoded at 1/2", data: "oddimages", bytes: () => data("oddimages/jpeg-js__table-with-good-e1.jpg"), config: DEFAULT_PREPROCESS, scale: 2 },
  { name: "2000x1072 photo, shipped recipe, decoded at 1/8", data: "oddimages", bytes: () => data("oddimages/pillow__xmp_test.jpg"), config: SHIPPED_RECIPE, scale: 8 },
  { name: "progressive JPEG, shipped recipe, decoded at 1/4", data: "oddimages", bytes: () => data("oddimages/jpeg-js__skater-progressive.jpg"), config: SHIPPED_RECIPE, scale: 4 },
  {
    name: "progressive 4:2:0 JPEG, shipped recipe, decoded at 1/8 (the DC-only decoder)",
    bytes: () => new Uint8Array(readFileSync(join(import.meta.dirname, "../fuzz/seeds/progressive-768x576.jpg"))),
    config: SHIPPED_RECIPE,
    scale: 8,
  },
  { name: "grayscale JPEG at 1/8, exact 64x64", data: "oddimages", bytes: () => data("oddimages/jpeg-js__apsara.jpg"), config: { ...DEFAULT_PREPROCESS, resize: { mode: "exact", size: 64 } }, scale: 8 },
  { name: "EXIF orientation 8, exact 96x128", data: "oddimages", bytes: () => data("oddimages/exiforient__Landscape_8.jpg"), config: { ...DEFAULT_PREPROCESS, resize: { mode: "exact", size: [96, 128] } } },
  { name: "YCCK (Adobe CMYK) JPEG, via jpeg-js", data: "oddimages", bytes: () => data("oddimages/sharp__Channel_digital_image_CMYK_color.jpg"), config: DEFAULT_PREPROCESS },
  { name: "plain Adobe CMYK JPEG", bytes: () => new Uint8Array(readFileSync(join(import.meta.dirname, "fixtures/adobe-cmyk.jpg"))), config: DEFAULT_PREPROCESS },
  { name: "progressive JPEG", data: "oddimages", bytes: () => data("oddimages/jpeg-js__skater-progressive.jpg"), config: DEFAULT_PREPROCESS },
  { name: "grayscale JPEG", data: "oddimages", bytes: () => data("oddimages/jpeg-js__apsara.jpg"), config: DEFAULT_PREPROCESS },
  { name: "2725x2225 photo, large downscale, decoded at 1/8", data: "oddimages", bytes: () => data("oddimages/sharp__2569067123_aca715a2ee_o.jpg"), config: DEFAULT_PREPROCESS, scale: 8 },
  { name: "RGBA PNG on white", data: "oddimages", bytes: () => data("oddimages/sharp__embedgravitybird.png"), config: DEFAULT_PREPROCESS },
  {
    name: "palette + tRNS PNG on a custom background, letterboxed",
    data: "oddimages",
    bytes: () => data("oddimages/sharp__Flag_of_the_Netherlands-alpha.png"),
    config: { ...DEFAULT_PREPROCESS, resize: { mode: "longest-edge", size: 200 }, crop: [200, 200], background: [0, 128, 0] },
  },
  { name: "16-bit PNG", data: "oddimages", bytes: () => data("oddimages/libjpeg-turbo__monkey16.png"), config: DEFAULT_PREPROCESS },
  {
    name: "interlaced gray+alpha 16-bit PNG (generated)",
    bytes: () => encodePng({ width: 37, height: 23, colorType: 4, bitDepth: 16, interlace: true, samples: Array.from({ length: 37 * 23 * 2 }, (_, i) => (i * 2654435761) % 65536) }),
    config: { ...DEFAULT_PREPROCESS, resize: { mode: "exact", size: 64 } },
  },
  // WebP (libwebp wasm): made by cwebp from Imagenette; skipped without the webp tools (see webp.test.ts)
  ...(hasWebpTools
    ? [
        { name: "lossy WebP", data: "imagenette" as const, bytes: async () => (await makeWebp("lossy")).bytes, config: DEFAULT_PREPROCESS },
        {
          name: "lossless WebP with alpha on a custom background, NHWC",
          data: "imagenette" as const,
          bytes: async () => (await makeWebp("lossless-alpha")).bytes,
          config: { ...DEFAULT_PREPROCESS, background: [0, 128, 0] as [number, number, number] },
          layout: "NHWC" as const,
        },
        { name: "2400x1800 lossy WebP, shrink-on-load 1/8", data: "imagenette" as const, bytes: async () => (await makeWebp("lossy", { resize: [2400, 1800] })).bytes, config: DEFAULT_PREPROCESS, scale: 8 },
        {
          name: "1600x1200 lossy WebP with alpha, shrink-on-load 1/4, exact 160",
          data: "imagenette" as const,
          bytes: async () => (await makeWebp("lossy-alpha", { resize: [1600, 1200] })).bytes,
          config: { ...DEFAULT_PREPROCESS, resize: { mode: "exact" as const, size: 160 }, crop: null },
          scale: 4,
        },
      ]
    : []),
];

function data(rel: string): Uint8Array {
  return new Uint8Array(readFileSync(join(DATA_DIR, rel)));
}

function firstFile(rel: string): string {
  return readdirSync(join(DATA_DIR, rel)).sort()[0]!;
}

const available: Record<TeamData, boolean> = { imagenette: hasImagenette, oddimages: hasOddImages };
const missing = (d: TeamData | undefined): boolean => d !== undefined && !available[d];

describe("preprocess parity: Node vs workerd", () => {
  let worker: WorkerHandle;
  beforeAll(async () => {
    await initCodecs();
    worker = await startWorker({ entry: "test/shared/fixtures/parity-worker.ts" });
  });
  afterAll(() => worker?.dispose());

  for (const c of CASES) {
    it.skipIf(missing(c.data))(`${c.name}: bit-identical Float32Array${missing(c.data) ? ` (${needs(c.data!)})` : ""}`, async () => {
      const bytes = await c.bytes();
      const layout = c.layout ?? "NCHW";
      const node = await preprocess(bytes, c.config, { layout });
      if (c.scale) expect(node.source.scale).toBe(c.scale);
      const res = await worker.fetch(`/preprocess?config=${encodeURIComponent(JSON.stringify(c.config))}&layout=${layout}`, { method: "POST", body: bytes as Uint8Array<ArrayBuffer> });
      expect(res.status, await res.clone().text().catch(() => "")).toBe(200);
      expect(JSON.parse(res.headers.get("x-dims")!)).toEqual(node.dims);
      expect(JSON.parse(res.headers.get("x-source")!)).toEqual(node.source);
      const edge = new Uint8Array(await res.arrayBuffer());
      const ours = new Uint8Array(node.data.buffer, node.data.byteOffset, node.data.byteLength);
      expect(edge.length).toBe(ours.length);
      expect(Buffer.compare(Buffer.from(edge), Buffer.from(ours))).toBe(0);
    });
  }

  it.skipIf(!hasOddImages)(`refusals are the same typed errors inside workerd (giant image, truncated, GIF)${hasOddImages ? "" : ` (${needs("oddimages")})`}`, async () => {
    for (const [file, code] of [
      ["sharp__giant-image.jpg", "image_too_large"],
      ["sharp__truncated.jpg", "corrupt_image"],
      ["sharp__Crash_test.gif", "unsupported_format"],
    ] as const) {
      const res = await worker.fetch("/preprocess", { method: "POST", body: data(`oddimages/${file}`) as Uint8Array<ArrayBuffer> });
      expect(res.status).toBe(422);
      expect(((await res.json()) as { code: string }).code).toBe(code);
    }
  });

  // edge/README.md and shared/src/preprocess.ts describe what `timing` reads in workerd; this is the check.
  // Deployed Cloudflare Workers advance the clock only on I/O (a Spectre mitigation, so timing reads 0
  // there); that cannot be run here. workerd itself, as wrangler dev and Miniflare run it, can:
  it("workerd run locally (Miniflare) advances its clocks during CPU work, in whole milliseconds, so preprocess timing is real there", async () => {
    const n = 2e7;
    const inNode = spin(n);
    expect(inNode.performanceMs).toBeGreaterThan(0);
    const inWorkerd = (await (await worker.fetch(`/clock?n=${n}`, { method: "POST" })).json()) as ReturnType<typeof spin>;
    expect(inWorkerd.sum).toBe(inNode.sum); // the same work ran
    expect(inWorkerd.performanceMs).toBeGreaterThan(0);
    expect(inWorkerd.dateMs).toBeGreaterThan(0);
    expect(Number.isInteger(inWorkerd.performanceMs)).toBe(true); // millisecond resolution
    // And so preprocess() itself, on a generated 1200x800 PNG that takes real time to decode and resize.
    const big = encodePng({ width: 1200, height: 800, colorType: 2, bitDepth: 8, interlace: false, samples: Array.from({ length: 1200 * 800 * 3 }, (_, i) => (i * 7919) % 251) });
    const node = await preprocess(big, DEFAULT_PREPROCESS);
    expect(node.timing.decodeMs + node.timing.preprocessMs).toBeGreaterThan(0);
    const res = await worker.fetch("/preprocess", { method: "POST", body: big as Uint8Array<ArrayBuffer> });
    expect(res.status).toBe(200);
    const timing = JSON.parse(res.headers.get("x-timing")!) as { decodeMs: number; preprocessMs: number };
    expect(timing.decodeMs + timing.preprocessMs).toBeGreaterThan(0);
  });
});
