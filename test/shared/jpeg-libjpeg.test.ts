// The JPEG decoder (libjpeg-turbo 2.1.5 in shared/wasm/jpeg): the committed wasm is the recorded build,
// shrink-on-load picks the right scale and keeps the tensor's size, the header walk tolerates what libjpeg
// tolerates (with warnings) and refuses what no real file has (too many scans, height 0, sides libjpeg
// cannot hold). Inputs are generated (mozjpeg's encoder) or edited copies of real files.
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import encodeJpegWasm, { init as initJpegEncoder } from "@jsquash/jpeg/encode.js";
import {
  DEFAULT_PREPROCESS,
  ImageError,
  checkDecodeLimits,
  decodeImage,
  holdDecoderInstances,
  shrinkDenominator,
  preprocess,
  readImageHeader,
} from "../../shared/src/index.ts";
import { codecModules } from "../../shared/src/codecs/registry.ts";
import { decodeWithLibjpeg, libjpegInstanceCount, libjpegLastDecodeHeapBytes, libjpegMemoryBytes } from "../../shared/src/codecs/libjpeg-turbo.ts";
import { readJpegHeader } from "../../shared/src/format/jpeg-header.ts";
import { initCodecs } from "../../shared/src/runtime/node.ts";
import { ODDIMAGES_DIR, hasOddImages, repoRoot } from "../helpers/data.ts";
import { pattern } from "../edge/helpers/images.ts";
import { errorOf, expectImageError } from "./helpers/image-errors.ts";
import { markerAt, scanUnits } from "./helpers/jpeg-markers.ts";

const MAX = 40_000_000;
const odd = (name: string): Uint8Array => new Uint8Array(readFileSync(join(ODDIMAGES_DIR, name)));
const sha = (b: Uint8Array): string => createHash("sha256").update(b).digest("hex");

let encoderReady: Promise<void> | undefined;
/** A JPEG from mozjpeg's encoder: baseline (sequential) unless `progressive`. */
async function encode(width: number, height: number, progressive: boolean, seed = 0): Promise<Uint8Array> {
  encoderReady ??= (async () => {
    const wasm = readFileSync(join(repoRoot, "node_modules/@jsquash/jpeg/codec/enc/mozjpeg_enc.wasm"));
    await initJpegEncoder(await WebAssembly.compile(wasm));
  })();
  await encoderReady;
  const data = pattern(width, height, seed);
  const buf = await encodeJpegWasm({ data, width, height, colorSpace: "srgb" } as ImageData, { quality: 90, progressive, baseline: !progressive });
  return new Uint8Array(buf);
}


const concat = (...parts: Uint8Array[]): Uint8Array => {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
};

beforeAll(async () => {
  await initCodecs();
});

describe("the committed wasm", () => {
  it("is the build recorded in libjpeg-turbo.wasm.sha256 (rebuild: bash shared/wasm/jpeg/build.sh --check)", () => {
    const dir = join(repoRoot, "shared/wasm/jpeg");
    const recorded = readFileSync(join(dir, "libjpeg-turbo.wasm.sha256"), "utf8").split(/\s+/)[0];
    expect(sha(readFileSync(join(dir, "libjpeg-turbo.wasm")))).toBe(recorded);
  });

  it("imports only the four hand-written functions and three stdio stubs (no emscripten JS runtime)", () => {
    const imports = WebAssembly.Module.imports(codecModules().jpeg).map((i) => `${i.module}.${i.name}`);
    expect(imports.sort()).toEqual(
      ["env.emscripten_notify_memory_growth", "env.jd_fail", "env.jd_read", "env.jd_skip", "wasi_snapshot_preview1.fd_close", "wasi_snapshot_preview1.fd_seek", "wasi_snapshot_preview1.fd_write", "wasi_snapshot_preview1.proc_exit"].sort(),
    );
  });
});

describe("shrink-on-load scale (shrinkDenominator)", () => {
  const short = (size: number) => ({ mode: "shortest-edge" as const, size });
  it.each([
    [4032, 3024, short(224), 8], // 504x378 still covers 299x224
    [4032, 3024, short(64), 8],
    [1800, 1200, short(224), 4], // 1/8 would be 225x150 < 336x224
    [768, 1024, short(224), 2],
    [224, 224, short(224), 1],
    [1784, 1784, short(224), 4], // ceil(1784/8) = 223 < 224
    [1785, 1785, short(224), 8], // ceil(1785/8) = 224: libjpeg rounds the scaled size up
    [8000, 6000, { mode: "none" as const, size: 1 }, 1],
    [8000, 6000, { mode: "exact" as const, size: [700, 900] as [number, number] }, 8],
    [8000, 6000, { mode: "exact" as const, size: [1000, 1001] as [number, number] }, 4],
  ])("%ix%i with %o -> 1/%i", (w, h, resize, d) => {
    expect(shrinkDenominator(w, h, resize)).toBe(d);
    // and the chosen scale really covers the target, the next larger reduction would not
    const need = resize.mode === "none" ? { width: w, height: h } : resize.mode === "exact" ? { width: (resize.size as number[])[1]!, height: (resize.size as number[])[0]! } : null;
    if (need) {
      expect(Math.ceil(w / d)).toBeGreaterThanOrEqual(need.width);
      if (d < 8 && resize.mode !== "none") expect(Math.ceil(w / (2 * d)) < need.width || Math.ceil(h / (2 * d)) < need.height).toBe(true);
    }
  });
});

describe("scaled decodes", () => {
  it("a 2048x1536 baseline JPEG at the default recipe decodes at 1/4 into the same tensor size as a full decode, close to its pixels", async () => {
    const bytes = await encode(2048, 1536, false, 3);
    const scaled = await preprocess(bytes, DEFAULT_PREPROCESS);
    expect(scaled.source).toEqual({ format: "jpeg", width: 2048, height: 1536, scale: 4 });
    const full = await preprocess(bytes, { ...DEFAULT_PREPROCESS, resize: { mode: "exact", size: [224, 299] } });
    expect(scaled.dims).toEqual([1, 3, 224, 299]);
    expect(full.dims).toEqual(scaled.dims);
    // DCT-domain scaling is a different (box-like) filter than the triangle resize: close, not identical
    let sum = 0;
    for (let i = 0; i < scaled.data.length; i++) sum += Math.abs(scaled.data[i]! - full.data[i]!);
    expect(sum / scaled.data.length).toBeLessThan(0.05); // normalized units (1/255/std ~ 0.017 per level)
  });

  it("a full-scale decode (scale 1) is what decodeImage returns, and the 1/8 decode has ceil(side/8) pixels", async () => {
    const bytes = await encode(1001, 667, false, 4);
    const full = await decodeImage(bytes, { maxPixels: MAX });
    expect([full.width, full.height]).toEqual([1001, 667]);
    const eighth = decodeWithLibjpeg(bytes, codecModules().jpeg, { scaleDenom: 8, channels: 3, maxScans: 500, memoryLimit: 64 << 20 });
    expect([eighth.image.width, eighth.image.height]).toEqual([126, 84]);
  });
});

describe("instances across the images of one request (holdDecoderInstances)", () => {
  it("progressive JPEGs in a hold reuse one grown instance, dropped when the hold ends; without a hold each decode drops its own", async () => {
    // 3000x2400 progressive 4:2:0: its coefficient buffer takes libjpeg's heap past the 16 MiB reset.
    const prog = await encode(3000, 2400, true);
    const jpeg = codecModules().jpeg;
    const opts = { scaleDenom: 8, channels: 3, maxScans: 500, memoryLimit: 64 << 20 } as const;
    decodeWithLibjpeg(prog, jpeg, opts); // (may reuse a small live instance) grows past the reset: dropped
    expect(libjpegLastDecodeHeapBytes()).toBeGreaterThan(16 << 20);
    expect(libjpegMemoryBytes()).toBe(0);
    let before = libjpegInstanceCount();
    decodeWithLibjpeg(prog, jpeg, opts);
    decodeWithLibjpeg(prog, jpeg, opts);
    expect(libjpegInstanceCount()).toBe(before + 2);
    before = libjpegInstanceCount();
    await holdDecoderInstances(async () => {
      for (let i = 0; i < 3; i++) expect(decodeWithLibjpeg(prog, jpeg, opts).image.width).toBe(375);
      expect(libjpegMemoryBytes()).toBeGreaterThan(16 << 20);
    });
    expect(libjpegInstanceCount()).toBe(before + 1);
    expect(libjpegMemoryBytes()).toBe(0);
  });
});

describe.skipIf(!hasOddImages)("libjpeg's tolerance: 200 with warnings, pixels unchanged", () => {
  let good: Uint8Array;
  let reference: string;
  beforeAll(async () => {
    good = odd("jpeg-js__table-with-good-e1.jpg"); // 768x1024 camera photo with an EXIF APP1 segment
    reference = sha((await decodeImage(good, { maxPixels: MAX })).data);
  });

  it("an APP1 whose declared length is short of its EXIF block: the rest are stray bytes before the next marker", async () => {
    const app1 = markerAt(good, 0xe1);
    const bytes = good.slice();
    const length = (bytes[app1 + 2]! << 8) | bytes[app1 + 3]!;
    const shorter = length - 40;
    bytes[app1 + 2] = shorter >> 8;
    bytes[app1 + 3] = shorter & 255;
    const image = await decodeImage(bytes, { maxPixels: MAX });
    expect(sha(image.data)).toBe(reference);
    expect(image.warnings?.join("\n")).toMatch(/40 extraneous bytes before marker/);
    expect(readJpegHeader(bytes).warnings).toHaveLength(1);
  });

  it("an APP1 whose declared length overruns into the next segment (a COM), resynchronised at the marker after it", async () => {
    const app1 = markerAt(good, 0xe1);
    const length = (good[app1 + 2]! << 8) | good[app1 + 3]!;
    const end = app1 + 2 + length;
    const com = concat(new Uint8Array([0xff, 0xfe, 0, 12]), new TextEncoder().encode("0123456789"));
    const bytes = concat(good.subarray(0, end), com, good.subarray(end));
    const longer = length + 6; // swallows the COM's marker, length and 2 bytes of its text
    bytes[app1 + 2] = longer >> 8;
    bytes[app1 + 3] = longer & 255;
    const image = await decodeImage(bytes, { maxPixels: MAX });
    expect(sha(image.data)).toBe(reference);
    expect(image.warnings?.join("\n")).toMatch(/8 extraneous bytes before marker/);
  });

  it("no EOI marker", async () => {
    const bytes = good.subarray(0, good.length - 2);
    const image = await decodeImage(bytes, { maxPixels: MAX });
    expect(sha(image.data)).toBe(reference);
    expect(image.warnings).toEqual(["the file has no end-of-image marker: it may have been cut short"]);
  });

  it("trailing garbage after the EOI", async () => {
    const bytes = concat(good, new TextEncoder().encode("trailing bytes from a careless uploader"));
    const image = await decodeImage(bytes, { maxPixels: MAX });
    expect(sha(image.data)).toBe(reference);
    expect(image.warnings).toEqual(["39 bytes after the end-of-image marker were ignored"]);
  });

  it("a clean file has no warnings field at all", async () => {
    expect((await decodeImage(good, { maxPixels: MAX })).warnings).toBeUndefined();
    expect((await preprocess(good, DEFAULT_PREPROCESS)).warnings).toEqual([]);
  });

  it("still refused: data cut short (pixels would be invented), no frame header, nothing after the SOI", async () => {
    await expectImageError(decodeImage(good.subarray(0, good.length >> 1), { maxPixels: MAX }), "corrupt_image");
    const sof = markerAt(good, 0xc0);
    const noSof = good.slice();
    noSof[sof + 1] = 0xe5; // the frame header becomes an APP5 segment
    await expectImageError(decodeImage(noSof, { maxPixels: MAX }), "corrupt_image");
    await expectImageError(decodeImage(good.subarray(0, 300), { maxPixels: MAX }), "corrupt_image");
  });
});

describe("refused from the header: what no real file has", () => {
  async function encode420(width: number, height: number): Promise<Uint8Array> {
    await encode(8, 8, true); // initialises the encoder
    const data = pattern(width, height, 1);
    return new Uint8Array(await encodeJpegWasm({ data, width, height, colorSpace: "srgb" } as ImageData, { quality: 90, progressive: true, auto_subsample: false, chroma_subsample: 2 }));
  }

  it("a progressive JPEG repeating a chroma scan past 500 scans is corrupt_image from the header; 499 scans decode", async () => {
    const prog = await encode420(64, 48);
    const units = scanUnits(prog);
    const chroma = units.find((u) => u.components.length === 1 && u.components[0] !== units[0]!.components[0])!;
    expect(chroma).toBeDefined();
    const eoi = prog.length - 2;
    const repeat = (copies: number) => concat(prog.subarray(0, eoi), ...Array.from({ length: copies }, () => prog.subarray(chroma.start, chroma.end)), prog.subarray(eoi));
    const base = readJpegHeader(prog).scans;
    const fewer = repeat(499 - base);
    expect(readJpegHeader(fewer).scans).toBe(499);
    expect(readJpegHeader(fewer).scanPasses).toBeLessThan(100); // a chroma plane is 1/6 of a 4:2:0 image's blocks
    expect((await decodeImage(fewer, { maxPixels: MAX })).width).toBe(64);
    const err = await expectImageError(decodeImage(repeat(501 - base), { maxPixels: MAX }), "corrupt_image");
    expect(err.message).toMatch(/more than 500 scans/);
  });

  it("repeating whole-image scans is refused past 100 passes over the image's blocks, long before 500 scans", async () => {
    const prog = await encode420(64, 48);
    const units = scanUnits(prog);
    const eoi = prog.length - 2;
    const passes = readJpegHeader(prog).scanPasses;
    expect(passes).toBeGreaterThanOrEqual(1.5);
    expect(passes).toBeLessThan(10);
    // the first scan (DC of every component, interleaved) visits every block: one pass per copy
    const first = units[0]!;
    expect(first.components.length).toBe(3);
    const bomb = concat(prog.subarray(0, eoi), ...Array.from({ length: 120 }, () => prog.subarray(first.start, first.end)), prog.subarray(eoi));
    expect(readJpegHeader(prog.subarray(0, eoi)).scans).toBeLessThan(20);
    expect(() => readJpegHeader(bomb)).toThrow(/more than 100 times/); // at ~110 scans, long before 500
  });

  it("the decoder's own scan limit (libjpeg's progress monitor) stops a file the header walk did not see", async () => {
    const prog = await encode(64, 48, true);
    const scans = readJpegHeader(prog).scans;
    expect(scans).toBeGreaterThan(3);
    const err = await errorOf(Promise.resolve().then(() => decodeWithLibjpeg(prog, codecModules().jpeg, { scaleDenom: 1, channels: 3, maxScans: 3, memoryLimit: 64 << 20 })));
    expect(err).toBeInstanceOf(ImageError);
    expect((err as ImageError).message).toMatch(/more than 3 scans/);
  });

  it("frame height 0 (a DNL file) is unsupported_variant from the header, with no size arithmetic", async () => {
    const bytes = await encode(32, 16, false);
    const sof = markerAt(bytes, 0xc0);
    bytes[sof + 5] = 0;
    bytes[sof + 6] = 0;
    const err = await expectImageError(Promise.resolve().then(() => readImageHeader(bytes)), "unsupported_variant");
    expect(err.message).toMatch(/height is 0/);
    expect(err.message).not.toMatch(/Infinity|NaN/);
    await expectImageError(decodeImage(bytes, { maxPixels: MAX }), "unsupported_variant");
  });

  it("an intact 65535x1 JPEG is image_too_large (libjpeg's 65500-pixel side), not corrupt; 65000x1 decodes", async () => {
    const wide = await encode(65000, 1, false);
    const image = await decodeImage(wide, { maxPixels: MAX });
    expect([image.width, image.height]).toEqual([65000, 1]);
    // (no encoder writes 65535 columns, libjpeg included: the frame header of the 65000x1 file says 65535)
    const widest = wide.slice();
    const sof = markerAt(widest, 0xc0);
    widest[sof + 7] = 0xff;
    widest[sof + 8] = 0xff;
    const err = await expectImageError(decodeImage(widest, { maxPixels: MAX }), "image_too_large");
    expect(err.message).toMatch(/65535x1.*at most 65500 pixels on a side/);
  });
});

describe("per-path limits (checkDecodeLimits)", () => {
  const limits = {
    maxPixels: { "jpeg-baseline": 50_000_000, "jpeg-progressive": 13_000_000, "jpeg-cmyk": 2_400_000, png: 2_400_000, png16: 1_000_000, webp: 2_400_000, "webp-lossless": 2_400_000 },
    maxJpegCoefficientBytes: 36 * 1024 * 1024,
  };
  const frame = (b: Uint8Array, w: number, h: number, marker: number): Uint8Array => {
    const out = b.slice();
    const sof = markerAt(out, marker);
    out[sof + 5] = h >> 8;
    out[sof + 6] = h & 255;
    out[sof + 7] = w >> 8;
    out[sof + 8] = w & 255;
    return out;
  };

  /** Set the three components' sampling factors in the SOF (luma first). */
  const sampling = (b: Uint8Array, marker: number, luma: number): Uint8Array => {
    const sof = markerAt(b, marker);
    b[sof + 11] = luma;
    b[sof + 14] = 0x11;
    b[sof + 17] = 0x11;
    return b;
  };

  it("a 48 MP baseline JPEG passes; a progressive 12 MP 4:2:0 passes; 4:4:4 at 12 MP needs twice the coefficients and is refused", async () => {
    const base = await encode(16, 16, false);
    const prog = await encode(16, 16, true);
    expect(() => checkDecodeLimits(readImageHeader(frame(base, 8000, 6000, 0xc0)), limits)).not.toThrow();
    const p12 = readImageHeader(sampling(frame(prog, 4032, 3024, 0xc2), 0xc2, 0x22));
    expect(p12.path).toBe("jpeg-progressive");
    expect(p12.coefficientBytes).toBe(4032 * 3024 * 1.5 * 2);
    expect(() => checkDecodeLimits(p12, limits)).not.toThrow();
    const full = sampling(frame(prog, 4032, 3024, 0xc2), 0xc2, 0x11); // 4:4:4
    const p444 = readImageHeader(full);
    expect(p444.coefficientBytes).toBe(4032 * 3024 * 3 * 2);
    const err = (() => {
      try {
        checkDecodeLimits(p444, limits);
      } catch (e) {
        return e as ImageError;
      }
      return null;
    })();
    expect(err?.code).toBe("image_too_large");
    expect(err?.message).toMatch(/progressive JPEG whose decoding needs 70 MiB of coefficient memory; the limit is 36 MiB/);
    expect(() => checkDecodeLimits(readImageHeader(frame(prog, 5000, 4000, 0xc2)), limits)).toThrow(/limit for a progressive JPEG is 13 MP/);
  });
});
