// Decoder edge cases beyond the team's oddimages: formats by magic bytes, every PNG color type / depth /
// interlacing (built with an independent writer), Adobe CMYK, refused JPEG variants, and damaged input at
// many cut points and bit flips. Damaged input must give a typed ImageError (never a hang, crash or silent
// garbage) and must not break the decoder for the next image.
import { createHash } from "node:crypto";
import { deflateSync } from "node:zlib";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { ImageError, decodeImage, holdDecoderInstances, orient, readImageHeader, sniffFormat } from "../../shared/src/index.ts";
import { codecModules } from "../../shared/src/codecs/registry.ts";
import { decodeWithLibjpeg, libjpegInstanceCount } from "../../shared/src/codecs/libjpeg-turbo.ts";
import { pngInstanceCount, pngMemoryBytes } from "../../shared/src/codecs/png.ts";
import { initCodecs } from "../../shared/src/runtime/node.ts";
import { ODDIMAGES_DIR, hasOddImages, needs } from "../helpers/data.ts";
import { CHANNELS, encodePng, type PngSpec } from "./helpers/png-encode.ts";
import { errorOf, expectImageError } from "./helpers/image-errors.ts";

const MAX = 40_000_000;
const fixture = (name: string): Uint8Array => new Uint8Array(readFileSync(join(import.meta.dirname, "fixtures", name)));
const odd = (name: string): Uint8Array => new Uint8Array(readFileSync(join(ODDIMAGES_DIR, name)));
const sha = (b: Uint8Array): string => createHash("sha256").update(b).digest("hex");


beforeAll(() => initCodecs());

describe("format sniffing (magic bytes, never names)", () => {
  const ascii = (s: string): number[] => Array.from(s, (c) => c.charCodeAt(0));
  const cases: [string, number[], string][] = [
    ["jpeg", [0xff, 0xd8, 0xff, 0xe0], "jpeg"],
    ["png", [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a], "png"],
    ["webp", [...ascii("RIFF"), 0, 0, 0, 0, ...ascii("WEBPVP8 ")], "webp"],
    ["gif", ascii("GIF89a...."), "gif"],
    ["bmp", [...ascii("BM"), ...new Array(30).fill(0)], "bmp"],
    ["tiff little-endian", [0x49, 0x49, 0x2a, 0x00, 8, 0, 0, 0], "tiff"],
    ["tiff big-endian", [0x4d, 0x4d, 0x00, 0x2a, 0, 0, 0, 8], "tiff"],
    ["avif", [0, 0, 0, 0x1c, ...ascii("ftypavif"), 0, 0, 0, 0, ...ascii("avifmif1miaf")], "avif"],
    ["avif as compatible brand", [0, 0, 0, 0x1c, ...ascii("ftypmif1"), 0, 0, 0, 0, ...ascii("miafavifMA1B")], "avif"],
    ["heic is not avif", [0, 0, 0, 0x18, ...ascii("ftypheic"), 0, 0, 0, 0, ...ascii("mif1heic")], "unknown"],
    ["html", ascii("<!DOCTYPE html>"), "unknown"],
    ["jpeg SOI without a marker", [0xff, 0xd8, 0x00], "unknown"],
  ];
  for (const [what, bytes, format] of cases) {
    it(`${what} -> ${format}`, () => expect(sniffFormat(new Uint8Array(bytes))).toBe(format));
  }

  it("refuses empty input and non-images with typed errors that name the supported formats", async () => {
    await expectImageError(decodeImage(new Uint8Array(0), { maxPixels: MAX }), "empty_input");
    const err = await expectImageError(decodeImage(new TextEncoder().encode("<!DOCTYPE html><p>hi"), { maxPixels: MAX }), "unsupported_format");
    expect(err.message).toContain("3c 21 44 4f");
    expect(err.message).toMatch(/supported: JPEG .*, PNG .* and WebP/);
  });
});

describe("PNG variants, decoded against the samples they were written from", () => {
  // Deterministic pseudo-random samples.
  let seed = 12345;
  const rand = (n: number): number => {
    seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
    return (seed >>> 8) % n;
  };
  const make = (colorType: PngSpec["colorType"], bitDepth: PngSpec["bitDepth"], interlace: boolean, extra: Partial<PngSpec> = {}): PngSpec => {
    const width = 13; // odd sizes exercise partial Adam7 passes and sub-byte row padding
    const height = 11;
    const n = width * height * CHANNELS[colorType];
    const max = colorType === 3 ? (extra.palette?.length ?? 1) : 2 ** bitDepth;
    return { width, height, colorType, bitDepth, interlace, samples: Array.from({ length: n }, () => rand(max)), ...extra };
  };
  const to8 = (v: number, depth: number): number => (depth === 16 ? Math.floor((v * 255 + 32767) / 65535) : depth === 8 ? v : (v * 255) / (2 ** depth - 1));

  const palette: [number, number, number][] = [
    [255, 0, 0],
    [0, 128, 255],
    [12, 34, 56],
    [200, 200, 10],
  ];
  const specs: [string, PngSpec, 1 | 2 | 3 | 4][] = [];
  for (const interlace of [false, true]) {
    const tag = interlace ? " interlaced" : "";
    for (const d of [1, 2, 4, 8, 16] as const) specs.push([`gray ${d}-bit${tag}`, make(0, d, interlace), 1]);
    for (const d of [8, 16] as const) specs.push([`RGB ${d}-bit${tag}`, make(2, d, interlace), 3]);
    for (const d of [8, 16] as const) specs.push([`gray+alpha ${d}-bit${tag}`, make(4, d, interlace), 2]);
    for (const d of [8, 16] as const) specs.push([`RGBA ${d}-bit${tag}`, make(6, d, interlace), 4]);
    specs.push([`palette 2-bit${tag}`, make(3, 2, interlace, { palette }), 3]);
    specs.push([`palette 8-bit + tRNS${tag}`, make(3, 8, interlace, { palette, trns: [0, 128, 255] }), 4]);
  }

  for (const [name, spec, channels] of specs) {
    it(`${name} -> ${channels} channel(s), exact samples`, async () => {
      const img = await decodeImage(encodePng(spec), { maxPixels: MAX });
      expect([img.width, img.height, img.channels]).toEqual([spec.width, spec.height, channels]);
      const ch = CHANNELS[spec.colorType];
      const expected: number[] = [];
      for (let p = 0; p < spec.width * spec.height; p++) {
        if (spec.colorType === 3) {
          const i = spec.samples[p]!;
          expected.push(...palette[i]!);
          if (spec.trns) expected.push(spec.trns[i] ?? 255);
        } else {
          for (let k = 0; k < ch; k++) expected.push(Math.round(to8(spec.samples[p * ch + k]!, spec.bitDepth)));
        }
      }
      expect(Array.from(img.data)).toEqual(expected);
    });
  }

  it("16-bit samples are rounded to 8 bits (round(v / 257)), not truncated (v >> 8)", async () => {
    const samples = [0, 128, 383, 32767, 32896, 65407, 65535, 200 * 257 + 128];
    const img = await decodeImage(encodePng({ width: samples.length, height: 1, colorType: 0, bitDepth: 16, samples }), { maxPixels: MAX });
    expect(Array.from(img.data)).toEqual(samples.map((v) => Math.round(v / 257)));
    expect(Array.from(img.data)).not.toEqual(samples.map((v) => v >> 8));
  });

  it("gray tRNS makes the keyed gray transparent, composited on the requested background", async () => {
    const spec: PngSpec = { width: 3, height: 1, colorType: 0, bitDepth: 8, samples: [10, 20, 30], trns: [20] };
    const img = await decodeImage(encodePng(spec), { maxPixels: MAX, background: [0, 100, 200] });
    expect(Array.from(img.data)).toEqual([10, 10, 10, 0, 100, 200, 30, 30, 30]);
  });

  it("applies the orientation in an eXIf chunk", async () => {
    // Orientation 6 (rotate 90 clockwise): stored 3x2 [a b c / d e f] displays as 2x3 [d a / e b / f c].
    const exif = new Uint8Array([0x4d, 0x4d, 0, 42, 0, 0, 0, 8, 0, 1, 0x01, 0x12, 0, 3, 0, 0, 0, 1, 0, 6, 0, 0, 0, 0, 0, 0, 0, 0]);
    const spec: PngSpec = { width: 3, height: 2, colorType: 0, bitDepth: 8, samples: [1, 2, 3, 4, 5, 6], extra: [{ type: "eXIf", body: exif }] };
    const bytes = encodePng(spec);
    expect(readImageHeader(bytes)).toEqual({ format: "png", width: 2, height: 3, orientation: 6, path: "png", coefficientBytes: 0 });
    const img = await decodeImage(bytes, { maxPixels: MAX });
    expect([img.width, img.height, Array.from(img.data)]).toEqual([2, 3, [4, 1, 5, 2, 6, 3]]);
  });

  it("a decoder failure (valid chunks, broken zlib stream) is corrupt_image and replaces the wasm instance", async () => {
    const good = encodePng(make(2, 8, false));
    const reference = sha((await decodeImage(good, { maxPixels: MAX })).data);
    const spec = make(2, 8, false);
    const broken = encodePng({ ...spec, idat: new Uint8Array([0x78, 0x9c, 0xff, 0xff, 0x00, 0x13, 0x37]) });
    const before = pngInstanceCount();
    await expectImageError(decodeImage(broken, { maxPixels: MAX }), "corrupt_image");
    expect(sha((await decodeImage(good, { maxPixels: MAX })).data)).toBe(reference);
    expect(pngInstanceCount()).toBe(before + 1);
  });

  it("an instance whose memory grew past 8 MiB is dropped after the decode; small ones are reused", async () => {
    const small = encodePng(make(2, 8, false));
    await decodeImage(small, { maxPixels: MAX });
    const reused = pngInstanceCount();
    await decodeImage(small, { maxPixels: MAX });
    expect(pngInstanceCount()).toBe(reused);
    const side = 1000; // ~12 MiB of wasm for 1 MP of 8-bit RGB
    const large = encodePng({ width: side, height: side, colorType: 2, bitDepth: 8, interlace: false, samples: Array.from({ length: side * side * 3 }, (_, i) => (i * 31) & 255) });
    await decodeImage(large, { maxPixels: MAX });
    expect(pngMemoryBytes()).toBe(0);
    await decodeImage(small, { maxPixels: MAX });
    expect(pngInstanceCount()).toBe(reused + 1);
  });

  it("inside holdDecoderInstances a grown instance serves the next images (no pile of dropped ones), and is dropped when the hold ends", async () => {
    const side = 1000; // ~12 MiB of wasm, past the 8 MiB reset
    const large = encodePng({ width: side, height: side, colorType: 2, bitDepth: 8, interlace: false, samples: Array.from({ length: side * side * 3 }, (_, i) => (i * 31) & 255) });
    const reference = sha((await decodeImage(large, { maxPixels: MAX })).data);
    // Without a hold: each large decode drops its instance, so three decodes instantiate three.
    let before = pngInstanceCount();
    for (let i = 0; i < 3; i++) await decodeImage(large, { maxPixels: MAX });
    expect(pngInstanceCount()).toBe(before + 3);
    // In a hold (one batch request): one instance for all three, same pixels, dropped at the end.
    before = pngInstanceCount();
    await holdDecoderInstances(async () => {
      for (let i = 0; i < 3; i++) {
        expect(sha((await decodeImage(large, { maxPixels: MAX })).data)).toBe(reference);
        expect(pngMemoryBytes()).toBeGreaterThan(8 << 20);
      }
      // A nested hold (a concurrent request) ending does not release what the outer one still uses.
      await holdDecoderInstances(async () => decodeImage(large, { maxPixels: MAX }));
      expect(pngMemoryBytes()).toBeGreaterThan(8 << 20);
    });
    expect(pngInstanceCount()).toBe(before + 1);
    expect(pngMemoryBytes()).toBe(0);
    // A failure inside a hold still drops the instance (its heap may hold the failed call's allocations).
    const broken = encodePng({ ...make(2, 8, false), idat: new Uint8Array([0x78, 0x9c, 0xff, 0xff, 0x00, 0x13, 0x37]) });
    await holdDecoderInstances(async () => {
      await decodeImage(large, { maxPixels: MAX });
      before = pngInstanceCount();
      await expectImageError(decodeImage(broken, { maxPixels: MAX }), "corrupt_image");
      await decodeImage(large, { maxPixels: MAX });
      expect(pngInstanceCount()).toBe(before + 1);
    });
  });

  it("garbage or short IDAT data says, in words, that the compressed pixel data is damaged (not the decoder's internal panic)", async () => {
    const spec = make(2, 8, false);
    const garbage = Uint8Array.from({ length: 64 }, (_, i) => (i * 97 + 13) & 255);
    const short = deflateSync(new Uint8Array(spec.width * 3)); // one scanline's worth of a 13x11 image
    for (const idat of [garbage, short]) {
      const err = await expectImageError(decodeImage(encodePng({ ...spec, idat }), { maxPixels: MAX }), "corrupt_image");
      expect(err.message).not.toMatch(/unwrap|panic|unreachable/);
      expect(err.message).toMatch(/PNG's compressed pixel data \(IDAT\) is damaged or incomplete/);
      expect(err.message).toContain("13x11");
      expect(err.message).toMatch(/send the complete, unmodified file/);
    }
  });

  it("truncated or bit-flipped PNGs are corrupt_image, and the decoder still works afterwards", async () => {
    const good = encodePng(make(6, 8, true));
    const reference = await decodeImage(good, { maxPixels: MAX });
    for (let cut = 1; cut < good.length; cut += Math.max(1, Math.floor(good.length / 40))) {
      const err = await errorOf(decodeImage(good.subarray(0, cut), { maxPixels: MAX }));
      expect(err, `cut at ${cut}`).toBeInstanceOf(ImageError);
      expect(["corrupt_image", "unsupported_format"]).toContain((err as ImageError).code); // < 8 bytes: no PNG signature
    }
    const flipped = good.slice();
    flipped[60]! ^= 0x40; // inside IDAT
    await expectImageError(decodeImage(flipped, { maxPixels: MAX }), "corrupt_image");
    expect(sha((await decodeImage(good, { maxPixels: MAX })).data)).toBe(sha(reference.data));
  });
});

describe("JPEG variants and damage", () => {
  it("plain Adobe CMYK (APP14 transform 0, inverted samples) matches Pillow", async () => {
    // fixtures/adobe-cmyk.jpg and these values come from fixtures/make-cmyk-fixture.py (Pillow 9.4):
    // mean RGB [106.188, 105.146, 164.5]; pixels at (0,0) (63,0) (0,47) (20,10) (40,30).
    const img = await decodeImage(fixture("adobe-cmyk.jpg"), { maxPixels: MAX });
    expect([img.width, img.height, img.channels]).toEqual([64, 48, 3]);
    const mean = [0, 1, 2].map((c) => {
      let s = 0;
      for (let i = c; i < img.data.length; i += 3) s += img.data[i]!;
      return s / (64 * 48);
    });
    [106.188, 105.146, 164.5].forEach((m, c) => expect(Math.abs(mean[c]! - m)).toBeLessThan(1));
    const at = (x: number, y: number): number[] => Array.from(img.data.subarray((y * 64 + x) * 3, (y * 64 + x) * 3 + 3));
    const expected: [number, number, number[]][] = [
      [0, 0, [255, 255, 215]],
      [63, 0, [2, 135, 114]],
      [0, 47, [255, 20, 215]],
      [20, 10, [93, 109, 114]],
      [40, 30, [95, 105, 215]],
    ];
    for (const [x, y, rgb] of expected) at(x, y).forEach((v, c) => expect(Math.abs(v - rgb[c]!), `(${x},${y})`).toBeLessThanOrEqual(3));
  });

  it("refuses a 4-component JPEG without an Adobe marker (CMYK convention unknown) as unsupported_variant", async () => {
    const bytes = fixture("adobe-cmyk.jpg");
    const at = Buffer.from(bytes).indexOf("Adobe");
    bytes[at] = 0x58; // "Xdobe": no longer an Adobe APP14 segment
    const err = await expectImageError(decodeImage(bytes, { maxPixels: MAX }), "unsupported_variant");
    expect(err.message).toMatch(/Adobe/);
  });

  it.skipIf(!hasOddImages)("refuses arithmetic-coded and lossless JPEGs from the header, naming the feature", async () => {
    const base = odd("pillow__hopper_gray.jpg");
    const sof = Buffer.from(base).indexOf(Buffer.from([0xff, 0xc0]));
    for (const [marker, word] of [
      [0xc9, "arithmetic"],
      [0xca, "arithmetic"],
      [0xc3, "lossless"],
    ] as const) {
      const bytes = base.slice();
      bytes[sof + 1] = marker;
      const err = await expectImageError(decodeImage(bytes, { maxPixels: MAX }), "unsupported_variant");
      expect(err.message).toContain(word);
    }
  });

  it.skipIf(!hasOddImages)("a libjpeg abort leaves the next image decodable, bit for bit", async () => {
    const good = odd("jpeg-js__skater-progressive.jpg");
    const reference = sha((await decodeImage(good, { maxPixels: MAX })).data);
    // Feed libjpeg-turbo directly what the header check normally keeps from it: 12-bit and CMYK make libjpeg
    // call error_exit, which throws through the jd_fail import.
    const opts = { scaleDenom: 1, channels: 3, maxScans: 500, memoryLimit: 64 << 20 } as const;
    for (const bad of ["libjpeg-turbo__monkey12.jpg", "pillow__pil_sample_cmyk.jpg"]) {
      const err = await errorOf(Promise.resolve().then(() => decodeWithLibjpeg(odd(bad), codecModules().jpeg, opts)));
      expect(err).toBeInstanceOf(ImageError);
      expect((err as ImageError).message).toMatch(/precision|4-component/i);
      const before = libjpegInstanceCount();
      expect(sha((await decodeImage(good, { maxPixels: MAX })).data)).toBe(reference);
      expect(libjpegInstanceCount()).toBe(before + 1); // a fresh instance replaced the failed one
    }
  });

  it.skipIf(!hasOddImages)("truncated at any point: typed error, never a hang or garbage; the decoder survives", async () => {
    const good = odd("jpeg-js__skater-progressive.jpg");
    const reference = sha((await decodeImage(good, { maxPixels: MAX })).data);
    for (let cut = 1; cut < good.length - 2; cut += Math.floor(good.length / 25)) {
      const err = await errorOf(decodeImage(good.subarray(0, cut), { maxPixels: MAX }));
      expect(err, `cut at ${cut}`).toBeInstanceOf(ImageError);
      expect(["corrupt_image", "unsupported_format"]).toContain((err as ImageError).code); // < 3 bytes: no JPEG signature
    }
    expect(sha((await decodeImage(good, { maxPixels: MAX })).data)).toBe(reference);
  });

  it.skipIf(!hasOddImages)("flipped bytes: either decodes to the right size or gives corrupt_image", async () => {
    const good = odd("pillow__app13-multiple.jpg");
    const reference = sha((await decodeImage(good, { maxPixels: MAX })).data);
    for (let k = 0; k < 30; k++) {
      const bytes = good.slice();
      const at = 600 + ((k * 7919) % (bytes.length - 700));
      bytes[at]! ^= 1 << k % 8;
      const result = await decodeImage(bytes, { maxPixels: MAX }).catch((e: unknown) => e);
      if (result instanceof ImageError) {
        expect(["corrupt_image", "unsupported_variant"]).toContain(result.code);
      } else {
        expect(result).not.toBeInstanceOf(Error);
        expect([(result as { width: number }).width, (result as { height: number }).height]).toEqual([256, 160]);
      }
    }
    expect(sha((await decodeImage(good, { maxPixels: MAX })).data)).toBe(reference);
  });

  it.skipIf(!hasOddImages)("JPEG EXIF orientations 1-8 each give the stored pixels transformed by orient()", async () => {
    // Landscape_3.jpg stores orientation 3 as a big-endian SHORT in IFD0; rewrite that value to 1..8.
    const original = odd("exiforient__Landscape_3.jpg");
    const tag = Buffer.from(original).indexOf(Buffer.from([0x01, 0x12, 0x00, 0x03, 0x00, 0x00, 0x00, 0x01, 0x00, 0x03]));
    expect(tag).toBeGreaterThan(0);
    const withOrientation = (o: number): Uint8Array => {
      const b = original.slice();
      b[tag + 9] = o;
      return b;
    };
    const stored = await decodeImage(withOrientation(1), { maxPixels: MAX });
    expect([stored.width, stored.height, stored.orientation]).toEqual([1800, 1200, 1]);
    for (let o = 2; o <= 8; o++) {
      const bytes = withOrientation(o);
      const header = readImageHeader(bytes);
      const img = await decodeImage(bytes, { maxPixels: MAX });
      expect([header.orientation, img.orientation, header.width, header.height]).toEqual([o, o, img.width, img.height]);
      expect(sha(img.data), `orientation ${o}`).toBe(sha(orient(stored, o).data));
    }
    // A value outside 1..8 is ignored (treated as 1), not an error.
    expect((await decodeImage(withOrientation(9), { maxPixels: MAX })).orientation).toBe(1);
  });

  it.skipIf(!hasOddImages)("maxPixels is inclusive: exactly the limit decodes, one pixel less refuses", async () => {
    const bytes = odd("jpeg-js__skater-progressive.jpg"); // 256x256
    await expect(decodeImage(bytes, { maxPixels: 256 * 256 })).resolves.toMatchObject({ width: 256, height: 256 });
    const err = await expectImageError(decodeImage(bytes, { maxPixels: 256 * 256 - 1 }), "image_too_large");
    expect(err.detail).toMatchObject({ width: 256, height: 256, maxPixels: 256 * 256 - 1 });
  });
});
