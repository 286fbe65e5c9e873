// The DC-only progressive JPEG decoder (shared/src/codecs/jpeg-dc.ts) against libjpeg-turbo (the wasm build
// shared decodes everything else with) at scale 1/8: the luma (every component whose libjpeg IDCT is 1x1)
// exactly, 4:2:0 chroma within a stated bound; the scan structures real encoders write and the ones only
// a hand-made file has (test/shared/helpers/progressive-encode.ts); truncations and damage with the codes
// libjpeg's path gives; and that decodeUpright/preprocess take it at 1/8 without touching libjpeg.
// Chroma bound (4:2:0; libjpeg's 2x2 IDCT reads AC coefficients this decoder skips), measured on the first
// val image of each class re-encoded by sharp (quality 90, 4:2:0), |dc - libjpeg| on the Cb/Cr planes: at
// their own size (~500x375) mean 1.5 over the 10 (worst image 2.75), max 39; at 1500x1000 mean 0.34 (worst
// 0.89), max 17; upscaled to 4032x3024 mean 0.12, max 7. The tests allow: 3.5 / 48, 1.2 / 24, 0.25 / 12.
// bench/jpeg/dc-fidelity.ts compares the chroma estimates (replicate, triangle, libjpeg's smoothing).
import { readdirSync } from "node:fs";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { DEFAULT_PREPROCESS, ImageError, checkDecodeLimits, decodePathAtScale, preprocess, readImageHeader } from "../../shared/src/index.ts";
import { decodeUpright } from "../../shared/src/decode.ts";
import { codecModules } from "../../shared/src/codecs/registry.ts";
import { decodeJpegDc } from "../../shared/src/codecs/jpeg-dc.ts";
import { decodeWithLibjpeg, libjpegInstanceCount, libjpegMemoryBytes } from "../../shared/src/codecs/libjpeg-turbo.ts";
import { initCodecs } from "../../shared/src/runtime/node.ts";
import { IMAGENETTE_DIR, hasImagenette, needs } from "../helpers/data.ts";
import { errorOf, expectImageError } from "./helpers/image-errors.ts";
import { markerAt, scanUnits } from "./helpers/jpeg-markers.ts";
import { encodeProgressive, standardScript, type ProgressiveOptions, type Scan } from "./helpers/progressive-encode.ts";

const libjpeg = (bytes: Uint8Array, scaleDenom: 1 | 2 | 4 | 8 = 8) =>
  decodeWithLibjpeg(bytes, codecModules().jpeg, { scaleDenom, channels: 3, maxScans: 500, memoryLimit: 256 << 20 });
const dc = (bytes: Uint8Array) => decodeJpegDc(bytes, { channels: 3, maxScans: 500 });

/** Max and mean |a - b| per channel (3 interleaved). */
function diff(a: Uint8Array, b: Uint8Array): { max: number[]; mean: number[]; all: { max: number; mean: number } } {
  expect(a.length).toBe(b.length);
  const max = [0, 0, 0];
  const sum = [0, 0, 0];
  for (let i = 0; i < a.length; i++) {
    const d = Math.abs(a[i]! - b[i]!);
    if (d > max[i % 3]!) max[i % 3] = d;
    sum[i % 3]! += d;
  }
  const n = a.length / 3;
  return { max, mean: sum.map((s) => s / n), all: { max: Math.max(...max), mean: (sum[0]! + sum[1]! + sum[2]!) / a.length } };
}

/** Deterministic photo-like RGBA: gradients, a few frequencies, hashed noise (so blocks differ). */
function texture(width: number, height: number, seed = 1): Uint8Array {
  const px = new Uint8Array(width * height * 4);
  let h = seed * 2654435761;
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      h = (Math.imul(h ^ (h >>> 15), 2246822519) + x * 31 + y) | 0;
      const n = ((h >>> 24) & 63) - 32;
      const i = (y * width + x) * 4;
      px[i] = Math.max(0, Math.min(255, (200 * x) / width + 40 * Math.sin(y / 5) + n));
      px[i + 1] = Math.max(0, Math.min(255, (220 * y) / height + 30 * Math.cos((x + y) / 7) + n / 2));
      px[i + 2] = Math.max(0, Math.min(255, 128 + 90 * Math.sin((x - 2 * y + seed) / 11) + n));
      px[i + 3] = 255;
    }
  }
  return px;
}

/** An Adobe APP14 segment with transform 0 right after the SOI: libjpeg (and the DC decoder) then output the component planes as R, G, B. */
function asComponentPlanes(jpeg: Uint8Array): Uint8Array {
  const seg = [0xff, 0xee, 0, 14, 0x41, 0x64, 0x6f, 0x62, 0x65, 0, 100, 0, 0, 0, 0, 0];
  const out = new Uint8Array(jpeg.length + seg.length);
  out.set(jpeg.subarray(0, 2));
  out.set(seg, 2);
  out.set(jpeg.subarray(2), 2 + seg.length);
  return out;
}

const W = 301;
const H = 203; // not multiples of 8 or 16: partial blocks and padded MCUs on both edges
const sampling: Record<string, [number, number][]> = {
  "4:4:4": [[1, 1], [1, 1], [1, 1]],
  "4:2:2": [[2, 1], [1, 1], [1, 1]],
  "4:4:0": [[1, 2], [1, 1], [1, 1]],
  "4:1:1": [[4, 1], [1, 1], [1, 1]],
  "4:2:0": [[2, 2], [1, 1], [1, 1]],
  gray: [[1, 1]],
  "gray 2x2": [[2, 2]],
};
/** Samplings whose every component libjpeg decodes with a 1x1 IDCT at 1/8: the whole output must match. */
const ALL_1X1 = new Set(["4:4:4", "4:2:2", "4:4:0", "4:1:1", "gray", "gray 2x2"]);

beforeAll(() => initCodecs());

describe("scan structures (hand-made files): exact where libjpeg's IDCT is 1x1", () => {
  const px = texture(W, H, 3);
  const scripts = (nc: number): [string, Partial<ProgressiveOptions>][] => [
    ["libjpeg-like: interleaved DC with successive approximation (Al=1 then a refinement)", {}],
    ["one DC scan per component (non-interleaved), Al=2 and two refinements", { script: standardScript(nc, { interleavedDc: false, dcAl: 2 }) }],
    ["restart interval 7", { restartInterval: 7 }],
    ["restart interval 1, non-interleaved DC", { restartInterval: 1, script: standardScript(nc, { interleavedDc: false }) }],
    ["AC first scans with Al=1 never refined (libjpeg smooths the ACs; the 1x1 IDCT ignores them)", { script: [{ comps: Array.from({ length: nc }, (_, i) => i), ss: 0, se: 0, ah: 0, al: 0 }, ...Array.from({ length: nc }, (_, i): Scan => ({ comps: [i], ss: 1, se: 63, ah: 0, al: 1 }))] }],
  ];

  for (const [name, s] of Object.entries(sampling)) {
    for (const [what, opts] of scripts(s.length)) {
      it(`${name}, ${what}`, () => {
        const bytes = encodeProgressive(px, W, H, { sampling: s, jfif: false, ...opts });
        const ref = libjpeg(bytes);
        const out = dc(bytes);
        expect([out.image.width, out.image.height]).toEqual([Math.ceil(W / 8), Math.ceil(H / 8)]);
        expect(out.warnings).toEqual([]);
        if (ALL_1X1.has(name)) {
          expect(diff(out.image.data, ref.image.data).all.max).toBe(0);
        } else {
          // 4:2:0: the component planes (Adobe transform 0): luma exact, chroma approximated
          const planes = asComponentPlanes(bytes);
          // (the texture's per-pixel noise makes its chroma far busier than a photo's: no bound here, see the photos below)
          expect(diff(dc(planes).image.data, libjpeg(planes).image.data).max[0]).toBe(0);
        }
      });
    }
  }

  it("a file with only its DC scans (cut after them, or written so): libjpeg's block smoothing, emulated exactly, 4:2:0 chroma included", () => {
    for (const s of Object.values(sampling)) {
      const nc = s.length;
      for (const script of [standardScript(nc, { dcAl: 0 }).filter((x) => x.ss === 0), standardScript(nc, { dcAl: 2, interleavedDc: false }).filter((x) => x.ss === 0).slice(0, nc + 1)]) {
        const bytes = encodeProgressive(px, W, H, { sampling: s, script });
        expect(diff(dc(bytes).image.data, libjpeg(bytes).image.data).all.max).toBe(0);
      }
    }
  });

  it("colour space as libjpeg picks it: JFIF = YCbCr, Adobe 0 without JFIF = RGB, ids R,G,B = RGB, Adobe 2 = YCbCr with libjpeg's warning", () => {
    const cases: [Partial<ProgressiveOptions>, string[]][] = [
      [{ jfif: true, adobeTransform: 0 }, []],
      [{ jfif: false, adobeTransform: 0, rawComponents: true }, []],
      [{ jfif: false, ids: [82, 71, 66], rawComponents: true }, []],
      [{ jfif: false, ids: [7, 8, 9] }, []],
      [{ jfif: false, adobeTransform: 2 }, ["Unknown Adobe color transform code 2"]],
    ];
    for (const [opts, warnings] of cases) {
      const bytes = encodeProgressive(px, W, H, { sampling: sampling["4:4:4"]!, ...opts });
      const ref = libjpeg(bytes);
      const out = dc(bytes);
      expect(diff(out.image.data, ref.image.data).all.max).toBe(0);
      expect(out.warnings).toEqual(warnings);
      expect(ref.warnings.map((w) => w.message)).toEqual(warnings);
    }
  });

  it("a DC scan repeated out of sequence (the refinement bomb): libjpeg's warning, its output, and the copies are not decoded", () => {
    const s = sampling["4:4:4"]!;
    const script = standardScript(3); // interleaved DC Al=1, ACs, then the DC refinement (Ah=1, Al=0)
    const refinement = script.at(-1)!;
    const firstDc = script[0]!;
    for (const [what, extra] of [["the refinement", refinement], ["the first DC scan", firstDc]] as const) {
      const plain = encodeProgressive(px, W, H, { sampling: s, jfif: false, script });
      const repeated = encodeProgressive(px, W, H, { sampling: s, jfif: false, script: what === "the refinement" ? [...script, extra, extra] : [firstDc, extra, ...script.slice(1)] });
      const ref = libjpeg(repeated);
      const out = dc(repeated);
      expect(out.warnings.length, what).toBeGreaterThan(0);
      expect(out.warnings[0]).toMatch(/^Inconsistent progression sequence for component 0 coefficient 0$/);
      expect(ref.warnings.map((w) => w.message)).toContain(out.warnings[0]);
      // same data in the copies: the same pixels as libjpeg's and as the file without them
      expect(diff(out.image.data, ref.image.data).all.max, what).toBe(0);
      expect(diff(out.image.data, dc(plain).image.data).all.max, what).toBe(0);
    }
    // Different data in a copied refinement: libjpeg ORs those bits in, this decoder never reads them.
    const bytes = encodeProgressive(px, W, H, { sampling: s, jfif: false, script: [...script, refinement] });
    const last = scanUnits(bytes).at(-1)!;
    const sos = markerAt(bytes, 0xda, last.start);
    const data = sos + 2 + ((bytes[sos + 2]! << 8) | bytes[sos + 3]!);
    const altered = bytes.slice();
    for (let i = data; i < last.end; i++) altered[i] = 0x55; // every other bit set, no 0xFF
    const once = encodeProgressive(px, W, H, { sampling: s, jfif: false, script });
    expect(diff(dc(altered).image.data, dc(once).image.data).all.max).toBe(0);
    expect(diff(libjpeg(altered).image.data, dc(once).image.data).all.max).toBeGreaterThan(0);
  });

  it("RGBA output: the RGB pixels with alpha 255", () => {
    const bytes = encodeProgressive(px, W, H, { sampling: sampling["4:2:0"]! });
    const rgb = dc(bytes).image;
    const rgba = decodeJpegDc(bytes, { channels: 4, maxScans: 500 }).image;
    expect(rgba.channels).toBe(4);
    for (let i = 0; i < rgb.width * rgb.height; i++) {
      expect([rgba.data[4 * i], rgba.data[4 * i + 1], rgba.data[4 * i + 2], rgba.data[4 * i + 3]]).toEqual([rgb.data[3 * i], rgb.data[3 * i + 1], rgb.data[3 * i + 2], 255]);
    }
  });
});

describe("truncated and damaged files: the codes libjpeg's path gives", () => {
  const px = texture(160, 120, 5);
  const file = encodeProgressive(px, 160, 120, { sampling: sampling["4:2:0"]!, restartInterval: 4, jfif: false });
  const units = scanUnits(file); // DC first, Y 1-5, Y 6-63, Cb 1-5, Cb 6-63, Cr 1-5, Cr 6-63, DC refinement
  /** The bytes of restart marker RSTn at or after `from`. */
  const rstAt = (n: number, from: number): number => {
    for (let i = from; i + 1 < file.length; i++) if (file[i] === 0xff && file[i + 1] === 0xd0 + n) return i;
    throw new Error("no RST");
  };
  const dcFirst = units[0]!;
  const acScan = units[1]!;
  const sosOf = (u: { start: number; end: number }) => markerAt(file, 0xda, u.start);
  const upright = (bytes: Uint8Array, scale: 4 | 8) => decodeUpright(bytes, { maxPixels: 1e8 }, "rgb", scale);

  it("cut inside a DC scan: corrupt_image, as libjpeg says (premature end of data segment)", async () => {
    for (const cut of [sosOf(dcFirst) + 20, Math.floor((dcFirst.start + dcFirst.end) / 2), dcFirst.end - 3]) {
      const bytes = file.subarray(0, cut);
      const err = await expectImageError(upright(bytes, 8), "corrupt_image");
      expect(err.message).toMatch(/premature end of data segment|instead of RST/);
      await expectImageError(upright(bytes, 4), "corrupt_image"); // libjpeg
    }
  });

  it("cut inside an AC scan after complete DC scans: decodes (the header walk's warning), its luma that of the whole file; libjpeg refuses it", async () => {
    // DC at full precision first (no refinement after the AC scans), as mozjpeg writes
    const dcFirstFile = encodeProgressive(px, 160, 120, { sampling: sampling["4:2:0"]!, script: standardScript(3, { dcAl: 0 }), jfif: false });
    const ac = scanUnits(dcFirstFile)[1]!;
    const bytes = dcFirstFile.subarray(0, Math.floor((ac.start + ac.end) / 2));
    const out = await upright(bytes, 8);
    expect(out.image.warnings).toEqual(["the file has no end-of-image marker: it may have been cut short"]);
    const luma = (b: Uint8Array, decode: (b: Uint8Array) => { image: { data: Uint8Array } }) => decode(asComponentPlanes(b)).image.data.filter((_, i) => i % 3 === 0);
    expect(luma(bytes, dc)).toEqual(luma(dcFirstFile, libjpeg));
    await expectImageError(upright(bytes, 4), "corrupt_image");
  });

  it("cut at scan boundaries: decodes, with libjpeg's luma whatever was cut, and its whole image until a chroma AC scan arrives", () => {
    units.slice(1).forEach((u, i) => {
      const bytes = file.subarray(0, sosOf(u));
      if (i < 3) expect(diff(dc(bytes).image.data, libjpeg(bytes).image.data).all.max, `cut before scan ${i + 1}`).toBe(0);
      const planes = asComponentPlanes(bytes);
      expect(diff(dc(planes).image.data, libjpeg(planes).image.data).max[0], `luma, cut before scan ${i + 1}`).toBe(0);
    });
  });

  it("a bad Huffman code, a wrong restart marker, a marker inside DC data: corrupt_image from both paths", async () => {
    const sos = sosOf(dcFirst);
    const data = sos + 2 + ((file[sos + 2]! << 8) | file[sos + 3]!);
    const badCode = file.slice();
    badCode.set([0xff, 0x00, 0xff, 0x00, 0xff, 0x00], data + 2); // 16+ one bits: no DC code is that long
    const wrongRst = file.slice();
    wrongRst[rstAt(1, data) + 1] = 0xd5;
    const marker = file.slice();
    marker.set([0xff, 0xfe], data + 5); // a COM marker where data should be
    for (const [bytes, message] of [
      [badCode, /bad Huffman code|premature end/],
      [wrongRst, /found marker 0xd5 instead of RST1/],
      [marker, /premature end of data segment/],
    ] as const) {
      const err = await expectImageError(upright(bytes, 8), "corrupt_image");
      expect(err.message).toMatch(message);
      await expectImageError(upright(bytes, 4), "corrupt_image");
    }
  });

  it("what libjpeg refuses outright: undefined tables, bad progression parameters, unknown markers, a second frame, too many scans", async () => {
    const sos = sosOf(dcFirst);
    const ns = file[sos + 4]!;
    const variants: [string, (b: Uint8Array) => Uint8Array, RegExp][] = [
      ["DC table 3 (undefined)", (b) => ((b[sos + 6] = 0x30), b), /Huffman table 0x03 was not defined/],
      ["Al = 14", (b) => ((b[sos + 5 + 2 * ns + 2] = 0x0e), b), /Invalid progressive parameters/],
      ["an AC scan with two components", (b) => new Uint8Array([...b.subarray(0, sosOf(acScan)), 0xff, 0xda, 0, 10, 2, 1, 0, 2, 0, 1, 63, 0, ...b.subarray(sosOf(acScan) + 10)]), /Invalid progressive parameters Ss=1 Se=63/],
      ["quantisation table 3 (undefined) for the luma", (b) => ((b[markerAt(b, 0xc2) + 12] = 3), b), /Quantization table 0x03 was not defined/],
      ["an unknown marker between scans", (b) => new Uint8Array([...b.subarray(0, acScan.start), 0xff, 0xf3, 0, 2, ...b.subarray(acScan.start)]), /Unsupported marker type 0xf3/],
      ["a second SOF2 between scans", (b) => new Uint8Array([...b.subarray(0, acScan.start), ...b.subarray(markerAt(b, 0xc2), markerAt(b, 0xc2) + 19), ...b.subarray(acScan.start)]), /two SOF markers/],
    ];
    for (const [name, mutate, message] of variants) {
      const bytes = mutate(file.slice());
      const err = await errorOf(upright(bytes, 8));
      expect(err, name).toBeInstanceOf(ImageError);
      expect([(err as ImageError).code, name]).toEqual(["corrupt_image", name]);
      expect((err as ImageError).message, name).toMatch(message);
      await expectImageError(upright(bytes, 4), "corrupt_image");
    }
    const err = await errorOf(Promise.resolve().then(() => decodeJpegDc(file, { channels: 3, maxScans: 3 })));
    expect((err as ImageError).message).toMatch(/more than 3 scans/);
  });

  it("a table segment cut by the end of the file: libjpeg reads its source's fake 0xFF 0xD9 bytes and stops; so does this decoder", () => {
    // an extra DHT just before the first AC scan, cut inside its values
    const table = [0xff, 0xc4, 0, 31, 0x11, 0, 1, 5, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 1, 2, 3];
    const bytes = new Uint8Array([...file.subarray(0, acScan.start), ...table]);
    expect(() => libjpeg(bytes)).not.toThrow();
    expect(diff(dc(bytes).image.data, libjpeg(bytes).image.data).all.max).toBe(0);
  });
});

describe("decodeUpright and preprocess take progressive JPEGs at 1/8 without libjpeg", () => {
  it("a 2400x1800 progressive 4:4:4 JPEG at the default recipe: scale 8, libjpeg not used, the pixels libjpeg gives", async () => {
    const bytes = encodeProgressive(texture(2400, 1800, 9), 2400, 1800, { sampling: sampling["4:4:4"]!, quality: 75 });
    const instances = libjpegInstanceCount();
    const heap = libjpegMemoryBytes();
    const out = await decodeUpright(bytes, { maxPixels: 1e8 }, "rgb", 8);
    expect(out.scale).toBe(8);
    expect([libjpegInstanceCount(), libjpegMemoryBytes()]).toEqual([instances, heap]);
    expect(diff(out.image.data, libjpeg(bytes).image.data).all.max).toBe(0);
    const pre = await preprocess(bytes, DEFAULT_PREPROCESS);
    expect(pre.source.scale).toBe(8);
    expect(libjpegInstanceCount()).toBe(instances);
  });

  it("limits follow the scale: a progressive JPEG at 1/8 is limited like a baseline one (no coefficient buffer), at 1/4 by the progressive limits", async () => {
    const bytes = encodeProgressive(texture(64, 48), 64, 48, { sampling: sampling["4:2:0"]! });
    const header = readImageHeader(bytes);
    expect(header).toMatchObject({ path: "jpeg-progressive", dcDecodable: true, progressive: true });
    expect(decodePathAtScale(header, 8)).toBe("jpeg-baseline");
    expect(decodePathAtScale(header, 4)).toBe("jpeg-progressive");
    const limits = {
      maxPixels: { "jpeg-baseline": 3000, "jpeg-progressive": 1000, "jpeg-cmyk": 1, png: 1, png16: 1, webp: 1, "webp-lossless": 1 },
      maxJpegCoefficientBytes: 1 << 20,
    };
    // 3072 pixels: over both limits at 1/4; at 1/8 over the baseline one only, named as what it is
    const at8 = await expectImageError(decodeUpright(bytes, { maxPixels: 1e8, limits }, "rgb", 8), "image_too_large");
    expect(at8.message).toMatch(/64x48 \(3072 pixels\) progressive JPEG decoded at 1\/8; the limit for a baseline JPEG or a progressive JPEG decoded at 1\/8 is 3000 pixels/);
    const at4 = await expectImageError(decodeUpright(bytes, { maxPixels: 1e8, limits }, "rgb", 4), "image_too_large");
    expect(at4.message).toMatch(/progressive JPEG; the limit for a progressive JPEG is 1000 pixels/);
    const roomy = { ...limits, maxPixels: { ...limits.maxPixels, "jpeg-baseline": 4000 } };
    expect((await decodeUpright(bytes, { maxPixels: 1e8, limits: roomy }, "rgb", 8)).image.width).toBe(8);
    expect(() => checkDecodeLimits({ ...header, path: decodePathAtScale(header, 8) }, roomy)).not.toThrow();
  });
});

describe.skipIf(!hasImagenette)(`real photos re-encoded progressive by sharp (${needs("imagenette")})`, () => {
  const val = join(IMAGENETTE_DIR, "val");
  const photos = hasImagenette ? readdirSync(val).sort().map((d) => join(val, d, readdirSync(join(val, d)).sort()[0]!)) : [];
  let sharp: typeof import("sharp");
  beforeAll(async () => {
    sharp = (await import("sharp")).default;
  });

  /** Encodes, then checks: luma plane exact (Adobe-0 copy), the whole image exact when no component is 4:2:0-style, chroma within the bound. */
  async function check(photo: string, width: number, height: number, kind: "4:2:0" | "4:4:4" | "gray", bound: { mean: number; max: number }): Promise<void> {
    let p = sharp(photo).resize(width, height, { fit: "fill" });
    if (kind === "gray") p = p.toColourspace("b-w");
    const bytes = new Uint8Array(await p.jpeg({ quality: 90, progressive: true, chromaSubsampling: kind === "4:4:4" ? "4:4:4" : "4:2:0" }).toBuffer());
    const header = readImageHeader(bytes);
    expect(header.dcDecodable).toBe(true);
    const rgb = diff(dc(bytes).image.data, libjpeg(bytes).image.data);
    if (kind !== "4:2:0") {
      expect(rgb.all.max, `${photo} ${width}x${height} ${kind}`).toBe(0);
      return;
    }
    const planes = asComponentPlanes(bytes);
    const d = diff(dc(planes).image.data, libjpeg(planes).image.data);
    expect(d.max[0], `${photo} ${width}x${height}: luma`).toBe(0);
    expect(Math.max(d.mean[1]!, d.mean[2]!), `${photo}: chroma mean`).toBeLessThanOrEqual(bound.mean);
    expect(Math.max(d.max[1]!, d.max[2]!), `${photo}: chroma max`).toBeLessThanOrEqual(bound.max);
    expect(rgb.all.mean).toBeLessThanOrEqual(bound.mean * 1.5);
  }

  it("4:2:0, 4:4:4 and gray, at their own size and at 1500x1000 (first val image of each class): luma exact, 4:2:0 chroma within bounds", async () => {
    for (const photo of photos) {
      const meta = await sharp(photo).metadata();
      for (const kind of ["4:2:0", "4:4:4", "gray"] as const) {
        await check(photo, meta.width!, meta.height!, kind, { mean: 3.5, max: 48 });
        await check(photo, 1500, 1000, kind, { mean: 1.2, max: 24 });
      }
    }
  });

  it("4:2:2 (this repo's encoder, from the photo's pixels; sharp cannot write it) and a 12 MP 4:2:0 photo", async () => {
    for (const photo of photos.slice(0, 3)) {
      const { data, info } = await sharp(photo).ensureAlpha().raw().toBuffer({ resolveWithObject: true });
      const bytes = encodeProgressive(new Uint8Array(data), info.width, info.height, { sampling: sampling["4:2:2"]!, restartInterval: 11 });
      expect(diff(dc(bytes).image.data, libjpeg(bytes).image.data).all.max).toBe(0);
    }
    await check(photos[0]!, 4032, 3024, "4:2:0", { mean: 0.25, max: 12 });
  });
});
