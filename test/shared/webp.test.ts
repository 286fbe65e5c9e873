// WebP through shared/'s one decoder: libwebp 1.2.4 (Debian's source) built to wasm by
// shared/wasm/webp/build.sh. Files are real Imagenette photos encoded by cwebp; the reference decoder is
// dwebp (the same libwebp release, native, with its SIMD paths), and decodes must match it exactly, at full
// size and at the shrink-on-load sizes. Also: the committed wasm is the one build.sh makes, header parsing
// (VP8, VP8L, VP8X canvas, alpha, EXIF orientation), refusals (animated, too large, damaged).
import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { DEFAULT_PREPROCESS, ImageError, decodeImage, preprocess, preprocessImage, readImageHeader } from "../../shared/src/index.ts";
import { decodeUpright } from "../../shared/src/decode.ts";
import { readWebpHeader } from "../../shared/src/format/webp-header.ts";
import { webpInstanceCount, webpMemoryBytes } from "../../shared/src/codecs/webp.ts";
import { shrinkDenominator } from "../../shared/src/ops/shrink-on-load.ts";
import { initCodecs } from "../../shared/src/runtime/node.ts";
import { hasImagenette, needs, repoRoot } from "../helpers/data.ts";
import { SOURCES, WEBP_TOOLS_MISSING, dwebpRgba, hasWebpTools, makeWebp, type WebpKind } from "./helpers/webp-files.ts";
import { errorOf, expectImageError } from "./helpers/image-errors.ts";

const MAX = 40_000_000;
const ready = hasImagenette && hasWebpTools;
const why = !hasWebpTools ? WEBP_TOOLS_MISSING : needs("imagenette");


/** The reference's RGBA reduced to the channels our decoder keeps (RGB when the file has no alpha). */
function referenceBytes(ref: { data: Uint8Array }, channels: number): Uint8Array {
  if (channels === 4) return ref.data;
  const out = new Uint8Array((ref.data.length / 4) * 3);
  for (let i = 0, j = 0; i < ref.data.length; i += 4, j += 3) out.set(ref.data.subarray(i, i + 3), j);
  return out;
}

beforeAll(() => initCodecs());

describe("the committed webp_dec.wasm", () => {
  it("is the file build.sh makes (its sha256 is recorded in build.sh, which checks every rebuild against it)", () => {
    const script = readFileSync(join(repoRoot, "shared/wasm/webp/build.sh"), "utf8");
    const recorded = /^WASM_SHA256=([0-9a-f]{64})$/m.exec(script)?.[1];
    expect(recorded).toBeDefined();
    const wasm = readFileSync(join(repoRoot, "shared/wasm/webp/webp_dec.wasm"));
    expect(createHash("sha256").update(wasm).digest("hex")).toBe(recorded);
  });

  it("imports only the memory-growth notice and exports the entry points the glue calls", () => {
    const module = new WebAssembly.Module(readFileSync(join(repoRoot, "shared/wasm/webp/webp_dec.wasm")));
    expect(WebAssembly.Module.imports(module).map((i) => `${i.module}.${i.name}`)).toEqual(["env.emscripten_notify_memory_growth"]);
    const exports = WebAssembly.Module.exports(module).map((e) => e.name);
    for (const name of ["memory", "_initialize", "malloc", "free", "webp_decode", "webp_free_result"]) expect(exports).toContain(name);
  });
});

describe.skipIf(!ready)(`WebP decode against dwebp ${ready ? "" : why}`, () => {
  const kinds: [WebpKind, 3 | 4][] = [
    ["lossy", 3],
    ["lossless", 3],
    ["lossy-alpha", 4],
    ["lossless-alpha", 4],
  ];
  for (const source of SOURCES) {
    for (const [kind, channels] of kinds) {
      it(`${kind} ${source}: header, and pixels identical to dwebp's`, async () => {
        const { path, bytes } = await makeWebp(kind, { source });
        const header = readWebpHeader(bytes);
        expect(header.kind).toBe(kind.startsWith("lossless") ? "lossless" : "lossy");
        expect(header.hasAlpha).toBe(channels === 4);
        const ref = dwebpRgba(path);
        expect(readImageHeader(bytes)).toEqual({ format: "webp", width: ref.width, height: ref.height, orientation: 1, path: kind === "lossy" ? "webp" : "webp-lossless", coefficientBytes: 0 });
        const img = await decodeImage(bytes, { maxPixels: MAX });
        expect([img.width, img.height, img.channels, img.format]).toEqual([ref.width, ref.height, channels, "webp"]);
        expect(Buffer.compare(Buffer.from(img.data), Buffer.from(referenceBytes(ref, channels)))).toBe(0);
      });
    }
  }

  it("alpha is composited on the background the way PNG alpha is (toRGB), transparent colour does not leak", async () => {
    const { path, bytes } = await makeWebp("lossless-alpha");
    const ref = dwebpRgba(path);
    const onGreen = await decodeImage(bytes, { maxPixels: MAX, background: [0, 128, 0] });
    expect(onGreen.channels).toBe(3);
    // row 0 is fully transparent: pure background
    for (let x = 0; x < onGreen.width; x++) expect(Array.from(onGreen.data.subarray(x * 3, x * 3 + 3))).toEqual([0, 128, 0]);
    // elsewhere: round((c * a + bg * (255 - a)) / 255), from dwebp's RGBA
    const y = Math.floor(onGreen.height / 2);
    for (const x of [0, 1, 57, onGreen.width - 1]) {
      const i = (y * onGreen.width + x) * 4;
      const a = ref.data[i + 3]!;
      const want = [0, 128, 0].map((bg, c) => Math.floor((ref.data[i + c]! * a + bg * (255 - a) + 127) / 255));
      expect(Array.from(onGreen.data.subarray((y * onGreen.width + x) * 3, (y * onGreen.width + x) * 3 + 3))).toEqual(want);
    }
  });

  for (const kind of ["lossy", "lossless-alpha"] as const) {
    it(`shrink-on-load (${kind}, 2400x1800): preprocess decodes at 1/8 = dwebp -scale exactly, and the tensor is close to the full-size path`, async () => {
      const { path, bytes } = await makeWebp(kind, { resize: [2400, 1800] });
      expect(shrinkDenominator(2400, 1800, DEFAULT_PREPROCESS.resize)).toBe(8); // 300x225 still covers 299x224
      const decoded = await decodeUpright(bytes, { maxPixels: MAX }, "rgba", (w, h) => shrinkDenominator(w, h, DEFAULT_PREPROCESS.resize));
      expect({ width: decoded.fullWidth, height: decoded.fullHeight, scale: decoded.scale }).toEqual({ width: 2400, height: 1800, scale: 8 });
      const small = decoded.image;
      const ref = dwebpRgba(path, { width: 300, height: 225 });
      expect([small.width, small.height]).toEqual([300, 225]);
      expect(Buffer.compare(Buffer.from(small.data), Buffer.from(referenceBytes(ref, small.channels)))).toBe(0);

      const shrunk = await preprocess(bytes, DEFAULT_PREPROCESS);
      expect(shrunk.source).toEqual({ format: "webp", width: 2400, height: 1800, scale: 8 });
      const full = preprocessImage(await decodeImage(bytes, { maxPixels: MAX }), DEFAULT_PREPROCESS);
      expect(shrunk.dims).toEqual(full.dims);
      let sum = 0;
      let max = 0;
      for (let i = 0; i < full.data.length; i++) {
        const d = Math.abs(full.data[i]! - shrunk.data[i]!);
        sum += d;
        max = Math.max(max, d);
      }
      // in normalized units (1/255 of a level is ~0.017): a pre-blur, not a different picture
      console.log(`${kind} 2400x1800 shrink 1/8 vs full decode, tensor abs diff: mean ${(sum / full.data.length).toFixed(4)}, max ${max.toFixed(3)}`);
      expect(sum / full.data.length).toBeLessThan(0.05);
    });
  }

  it("EXIF orientation in a VP8X file is read and applied", async () => {
    const { path } = await makeWebp("lossy");
    // a big-endian TIFF block with one IFD entry: Orientation (0x0112), SHORT, 6
    const tiff = new Uint8Array([0x4d, 0x4d, 0, 42, 0, 0, 0, 8, 0, 1, 0x01, 0x12, 0, 3, 0, 0, 0, 1, 0, 6, 0, 0, 0, 0, 0, 0]);
    const exifPath = `${path}.exif`;
    writeFileSync(exifPath, tiff);
    const out = `${path}.rot.webp`;
    expect(spawnSync("webpmux", ["-set", "exif", exifPath, path, "-o", out]).status).toBe(0);
    const bytes = new Uint8Array(readFileSync(out));
    const plain = await decodeImage(new Uint8Array(readFileSync(path)), { maxPixels: MAX });
    expect(readImageHeader(bytes)).toEqual({ format: "webp", width: plain.height, height: plain.width, orientation: 6, path: "webp", coefficientBytes: 0 });
    const rotated = await decodeImage(bytes, { maxPixels: MAX });
    expect([rotated.width, rotated.height, rotated.orientation]).toEqual([plain.height, plain.width, 6]);
    // orientation 6: the displayed top-left pixel is the stored bottom-left one
    const stored = (plain.height - 1) * plain.width * 3;
    expect(Array.from(rotated.data.subarray(0, 3))).toEqual(Array.from(plain.data.subarray(stored, stored + 3)));
  });

  it("decode limits: lossy WebP takes the webp limit, lossless and alpha the webp-lossless one, refused from the header", async () => {
    const limits = (webp: number, webpLossless: number) => ({
      maxPixels: { "jpeg-baseline": MAX, "jpeg-progressive": MAX, "jpeg-cmyk": MAX, png: MAX, png16: MAX, webp, "webp-lossless": webpLossless },
      maxJpegCoefficientBytes: 1 << 30,
    });
    for (const [kind, path] of [["lossy", "webp"], ["lossless", "webp-lossless"], ["lossy-alpha", "webp-lossless"]] as const) {
      const { bytes } = await makeWebp(kind);
      const h = readImageHeader(bytes);
      expect(h.path).toBe(path);
      const pixels = h.width * h.height;
      const own = path === "webp" ? limits(pixels - 1, MAX) : limits(MAX, pixels - 1);
      const err = await decodeImage(bytes, { maxPixels: MAX, limits: own }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(ImageError);
      expect((err as ImageError).code).toBe("image_too_large");
      expect((err as ImageError).detail).toMatchObject({ path, maxPixels: pixels - 1 });
      expect((err as ImageError).message).toMatch(path === "webp" ? /lossy WebP/ : /lossless WebP/);
      const other = path === "webp" ? limits(pixels, 1) : limits(1, pixels);
      expect((await decodeImage(bytes, { maxPixels: MAX, limits: other })).width).toBe(h.width);
    }
  });

  it("refuses animated WebP from the header (415 unsupported_variant), saying what to send", async () => {
    const frames = [(await makeWebp("lossy")).path, (await makeWebp("lossy", { source: SOURCES[1] })).path].map((path) => {
      expect(spawnSync("dwebp", ["-quiet", path, "-o", `${path}.png`]).status).toBe(0);
      return `${path}.png`;
    });
    const anim = `${frames[0]}.anim.webp`;
    expect(spawnSync("img2webp", ["-loop", "0", "-lossy", frames[0]!, "-d", "100", frames[1]!, "-o", anim]).status).toBe(0);
    const err = await expectImageError(decodeImage(new Uint8Array(readFileSync(anim)), { maxPixels: MAX }), "unsupported_variant");
    expect(err.message).toMatch(/animated.*send one frame as a still image/);
  });

  it("an instance whose memory grew past 8 MiB is dropped after the decode (the isolate does not keep it); small ones are reused", async () => {
    const small = (await makeWebp("lossy")).bytes;
    await decodeImage(small, { maxPixels: MAX });
    const reused = webpInstanceCount();
    await decodeImage(small, { maxPixels: MAX });
    expect(webpInstanceCount()).toBe(reused);
    const large = (await makeWebp("lossless", { resize: [1600, 1200] })).bytes; // ~4.5 B/px inside libwebp: ~9 MiB
    await decodeImage(large, { maxPixels: MAX });
    expect(webpMemoryBytes()).toBe(0);
    await decodeImage(small, { maxPixels: MAX });
    expect(webpInstanceCount()).toBe(reused + 1);
  });

  it("truncated or damaged files are corrupt_image, and the decoder works afterwards", async () => {
    for (const kind of ["lossy", "lossless-alpha"] as const) {
      const { bytes } = await makeWebp(kind);
      const good = await decodeImage(bytes, { maxPixels: MAX });
      for (let cut = 1; cut < bytes.length; cut += Math.max(1, Math.floor(bytes.length / 30))) {
        const err = await errorOf(decodeImage(bytes.subarray(0, cut), { maxPixels: MAX }));
        expect(err, `${kind} cut at ${cut}`).toBeInstanceOf(ImageError);
        expect(["corrupt_image", "unsupported_format"]).toContain((err as ImageError).code); // < 12 bytes: no RIFF/WEBP
        expect((err as ImageError).message).toMatch(/send the complete, unmodified file|convert/);
      }
      const again = await decodeImage(bytes, { maxPixels: MAX });
      expect(Buffer.compare(Buffer.from(again.data), Buffer.from(good.data))).toBe(0);
    }
  });
});

describe("WebP header limits (no pixel memory before the check)", () => {
  /** A lossy VP8 key frame header claiming `width`x`height`, and nothing else. */
  function vp8Header(width: number, height: number): Uint8Array {
    const frame = [0x10, 0x02, 0x00, 0x9d, 0x01, 0x2a, width & 255, width >> 8, height & 255, height >> 8, 0, 0];
    const riff = 4 + 8 + frame.length;
    return new Uint8Array([
      ...Array.from("RIFF", (c) => c.charCodeAt(0)),
      riff & 255, (riff >> 8) & 255, 0, 0,
      ...Array.from("WEBPVP8 ", (c) => c.charCodeAt(0)),
      frame.length, 0, 0, 0,
      ...frame,
    ]);
  }

  it("a 16383x16383 header is refused as image_too_large without instantiating a decoder", async () => {
    const before = webpInstanceCount();
    const err = await expectImageError(decodeImage(vp8Header(16383, 16383), { maxPixels: MAX }), "image_too_large");
    expect(err.message).toContain("16383x16383");
    expect(webpInstanceCount()).toBe(before);
  });

  it("a zero size is corrupt_image; a frame with no data is corrupt_image from libwebp", async () => {
    await expectImageError(decodeImage(vp8Header(0, 10), { maxPixels: MAX }), "corrupt_image");
    const err = await expectImageError(decodeImage(vp8Header(64, 64), { maxPixels: MAX }), "corrupt_image");
    expect(err.message).toMatch(/WebP could not be decoded: .*; send the complete, unmodified file/);
  });

  it("a VP8X canvas that disagrees with its image is corrupt_image", () => {
    const inner = vp8Header(64, 48).subarray(12);
    const vp8x = [...Array.from("VP8X", (c) => c.charCodeAt(0)), 10, 0, 0, 0, 0, 0, 0, 0, 99, 0, 0, 47, 0, 0];
    const body = [...Array.from("WEBP", (c) => c.charCodeAt(0)), ...vp8x, ...inner];
    const bytes = new Uint8Array([...Array.from("RIFF", (c) => c.charCodeAt(0)), body.length & 255, body.length >> 8, 0, 0, ...body]);
    expect(() => readWebpHeader(bytes)).toThrow(/canvas is 100x48 but the image data is 64x48/);
  });
});

