// Parity: the same bytes through preprocess() in Node and inside real workerd (Miniflare, bundled by
// wrangler exactly as for deploy) give bit-identical Float32Arrays, for JPEG (baseline, progressive, gray,
// EXIF-rotated, CMYK/YCCK), PNG (alpha, palette + tRNS, 16-bit, interlaced) and several recipes.
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DEFAULT_PREPROCESS, preprocess, type PreprocessConfig, type TensorLayout } from "../../shared/src/index.ts";
import { initCodecs } from "../../shared/src/runtime/node.ts";
import { DATA_DIR, ODDIMAGES_DIR, hasImagenette, hasOddImages, needs } from "../helpers/data.ts";
import { startWorker, type WorkerHandle } from "../helpers/workerd.ts";
import { encodePng } from "./helpers/png-encode.ts";
import { hasWebpTools, makeWebp } from "./helpers/webp-files.ts";

const CASES: { name: string; bytes: () => Uint8Array | Promise<Uint8Array>; config: PreprocessConfig; layout?: TensorLayout }[] = [
  { name: "Imagenette JPEG, default recipe", bytes: () => data("imagenette/val/n03888257/ILSVRC2012_val_00001440.JPEG"), config: DEFAULT_PREPROCESS },
  {
    name: "Imagenette JPEG, shortest-edge 160 + crop 128, NHWC",
    bytes: () => data("imagenette/train/n01440764/" + firstFile("imagenette/train/n01440764")),
    config: { ...DEFAULT_PREPROCESS, resize: { mode: "shortest-edge", size: 160 }, crop: [128, 128] },
    layout: "NHWC",
  },
  { name: "EXIF orientation 6 photo", bytes: () => data("oddimages/exiforient__Landscape_6.jpg"), config: DEFAULT_PREPROCESS },
  { name: "EXIF orientation 8, exact 96x128", bytes: () => data("oddimages/exiforient__Landscape_8.jpg"), config: { ...DEFAULT_PREPROCESS, resize: { mode: "exact", size: [96, 128] } } },
  { name: "YCCK (Adobe CMYK) JPEG, via jpeg-js", bytes: () => data("oddimages/sharp__Channel_digital_image_CMYK_color.jpg"), config: DEFAULT_PREPROCESS },
  { name: "plain Adobe CMYK JPEG", bytes: () => new Uint8Array(readFileSync(join(import.meta.dirname, "fixtures/adobe-cmyk.jpg"))), config: DEFAULT_PREPROCESS },
  { name: "progressive JPEG", bytes: () => data("oddimages/jpeg-js__skater-progressive.jpg"), config: DEFAULT_PREPROCESS },
  { name: "grayscale JPEG", bytes: () => data("oddimages/jpeg-js__apsara.jpg"), config: DEFAULT_PREPROCESS },
  { name: "2725x2225 photo, large downscale", bytes: () => data("oddimages/sharp__2569067123_aca715a2ee_o.jpg"), config: DEFAULT_PREPROCESS },
  { name: "RGBA PNG on white", bytes: () => data("oddimages/sharp__embedgravitybird.png"), config: DEFAULT_PREPROCESS },
  {
    name: "palette + tRNS PNG on a custom background, letterboxed",
    bytes: () => data("oddimages/sharp__Flag_of_the_Netherlands-alpha.png"),
    config: { ...DEFAULT_PREPROCESS, resize: { mode: "longest-edge", size: 200 }, crop: [200, 200], background: [0, 128, 0] },
  },
  { name: "16-bit PNG", bytes: () => data("oddimages/libjpeg-turbo__monkey16.png"), config: DEFAULT_PREPROCESS },
  {
    name: "interlaced gray+alpha 16-bit PNG (generated)",
    bytes: () => encodePng({ width: 37, height: 23, colorType: 4, bitDepth: 16, interlace: true, samples: Array.from({ length: 37 * 23 * 2 }, (_, i) => (i * 2654435761) % 65536) }),
    config: { ...DEFAULT_PREPROCESS, resize: { mode: "exact", size: 64 } },
  },
  // WebP (libwebp wasm): made by cwebp from Imagenette; skipped without the webp tools (see webp.test.ts)
  ...(hasWebpTools
    ? [
        { name: "lossy WebP", bytes: async () => (await makeWebp("lossy")).bytes, config: DEFAULT_PREPROCESS },
        {
          name: "lossless WebP with alpha on a custom background, NHWC",
          bytes: async () => (await makeWebp("lossless-alpha")).bytes,
          config: { ...DEFAULT_PREPROCESS, background: [0, 128, 0] as [number, number, number] },
          layout: "NHWC" as const,
        },
        { name: "2400x1800 lossy WebP, shrink-on-load 1/8", bytes: async () => (await makeWebp("lossy", { resize: [2400, 1800] })).bytes, config: DEFAULT_PREPROCESS },
        {
          name: "1600x1200 lossy WebP with alpha, shrink-on-load 1/4, exact 160",
          bytes: async () => (await makeWebp("lossy-alpha", { resize: [1600, 1200] })).bytes,
          config: { ...DEFAULT_PREPROCESS, resize: { mode: "exact" as const, size: 160 }, crop: null },
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

const ready = hasOddImages && hasImagenette;

describe.skipIf(!ready)(`preprocess parity: Node vs workerd ${ready ? "" : needs(hasOddImages ? "imagenette" : "oddimages")}`, () => {
  let worker: WorkerHandle;
  beforeAll(async () => {
    await initCodecs();
    worker = await startWorker({ entry: "test/shared/fixtures/parity-worker.ts" });
  });
  afterAll(() => worker?.dispose());

  for (const c of CASES) {
    it(`${c.name}: bit-identical Float32Array`, async () => {
      const bytes = await c.bytes();
      const layout = c.layout ?? "NCHW";
      const node = await preprocess(bytes, c.config, { layout });
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

  it("refusals are the same typed errors inside workerd (giant image, truncated, GIF)", async () => {
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
});
