// Pure image operations: property tests (fast-check) for shapes, value ranges and identities, plus
// known-answer checks, and Pillow parity for the resize where the team data is available.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  ConfigError,
  DEFAULT_PREPROCESS,
  centerCrop,
  decodeImage,
  normalizeToTensor,
  orient,
  pad,
  preprocessImage,
  resize,
  targetSize,
  toRGB,
  type PreprocessConfig,
  type RawImage,
} from "../../shared/src/index.ts";
import { initCodecs } from "../../shared/src/runtime/node.ts";
import { ODDIMAGES_DIR, hasOddImages } from "../helpers/data.ts";

const arbImage = (maxSide = 24): fc.Arbitrary<RawImage> =>
  fc
    .record({ width: fc.integer({ min: 1, max: maxSide }), height: fc.integer({ min: 1, max: maxSide }), channels: fc.constantFrom(1, 2, 3, 4) as fc.Arbitrary<1 | 2 | 3 | 4> })
    .chain(({ width, height, channels }) =>
      fc
        .uint8Array({ minLength: width * height * channels, maxLength: width * height * channels })
        .map((data) => ({ data, width, height, channels })),
    );

const channelRange = (img: RawImage, c: number): [number, number] => {
  let lo = 255;
  let hi = 0;
  for (let i = c; i < img.data.length; i += img.channels) {
    lo = Math.min(lo, img.data[i]!);
    hi = Math.max(hi, img.data[i]!);
  }
  return [lo, hi];
};

const pixel = (img: RawImage, x: number, y: number): number[] =>
  Array.from(img.data.subarray((y * img.width + x) * img.channels, (y * img.width + x + 1) * img.channels));

describe("resize (Pillow BILINEAR, antialiased)", () => {
  it("property: output has the requested shape and the same channels", () => {
    fc.assert(
      fc.property(arbImage(), fc.integer({ min: 1, max: 50 }), fc.integer({ min: 1, max: 50 }), (img, w, h) => {
        const out = resize(img, w, h);
        expect([out.width, out.height, out.channels, out.data.length]).toEqual([w, h, img.channels, w * h * img.channels]);
      }),
      { numRuns: 200 },
    );
  });

  it("property: every output value lies within the input's range for that channel (no overshoot)", () => {
    fc.assert(
      fc.property(arbImage(), fc.integer({ min: 1, max: 50 }), fc.integer({ min: 1, max: 50 }), (img, w, h) => {
        const out = resize(img, w, h);
        for (let c = 0; c < img.channels; c++) {
          const [lo, hi] = channelRange(img, c);
          const [olo, ohi] = channelRange(out, c);
          expect(olo).toBeGreaterThanOrEqual(lo);
          expect(ohi).toBeLessThanOrEqual(hi);
        }
      }),
      { numRuns: 200 },
    );
  });

  it("property: scale 1 is the identity (and returns a copy)", () => {
    fc.assert(
      fc.property(arbImage(), (img) => {
        const out = resize(img, img.width, img.height);
        expect(out.data).toEqual(img.data);
        expect(out.data).not.toBe(img.data);
      }),
    );
  });

  it("property: a constant image stays constant at any size", () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 40 }), fc.integer({ min: 1, max: 40 }), fc.integer({ min: 0, max: 255 }), fc.integer({ min: 1, max: 80 }), fc.integer({ min: 1, max: 80 }), (w, h, v, ow, oh) => {
        const out = resize({ data: new Uint8Array(w * h).fill(v), width: w, height: h, channels: 1 }, ow, oh);
        expect(out.data.every((x) => x === v)).toBe(true);
      }),
    );
  });

  it("antialiases: a 1-pixel checkerboard shrunk 16x becomes flat grey, not a moire of 0/255", () => {
    const n = 256;
    const data = new Uint8Array(n * n);
    for (let y = 0; y < n; y++) for (let x = 0; x < n; x++) data[y * n + x] = (x + y) % 2 ? 255 : 0;
    const out = resize({ data, width: n, height: n, channels: 1 }, 16, 16);
    for (const v of out.data) expect(Math.abs(v - 127.5)).toBeLessThanOrEqual(2);
  });

  it("enlarging interpolates linearly between pixel centres", () => {
    const out = resize({ data: new Uint8Array([0, 200]), width: 2, height: 1, channels: 1 }, 4, 1);
    // Output centres at 0.25, 0.75, 1.25, 1.75 in input pixels: 0, 50, 150, 200 (edges clamp).
    expect(Array.from(out.data)).toEqual([0, 50, 150, 200]);
  });

  it.skipIf(!hasOddImages)("matches Pillow's Image.resize(BILINEAR) exactly on real photos (64 samples each)", async () => {
    await initCodecs();
    const ref = JSON.parse(readFileSync(join(import.meta.dirname, "fixtures/pil-reference.json"), "utf8")).resizes as Record<
      string,
      { size: [number, number]; grid: number[][] }
    >;
    for (const [name, r] of Object.entries(ref)) {
      const img = await decodeImage(new Uint8Array(readFileSync(join(ODDIMAGES_DIR, name))), { maxPixels: 4e7, background: [255, 255, 255] });
      const out = resize(img, r.size[0], r.size[1]);
      const samples: number[][] = [];
      for (let j = 0; j < 8; j++) for (let i = 0; i < 8; i++) samples.push(pixel(out, Math.floor(((i + 0.5) * out.width) / 8), Math.floor(((j + 0.5) * out.height) / 8)));
      expect(samples, name).toEqual(r.grid);
    }
  });
});

describe("targetSize", () => {
  it.each([
    [500, 375, { mode: "shortest-edge", size: 224 }, 299, 224],
    [375, 500, { mode: "shortest-edge", size: 224 }, 224, 299],
    [2725, 2225, { mode: "shortest-edge", size: 224 }, 274, 224],
    [224, 224, { mode: "shortest-edge", size: 160 }, 160, 160],
    [500, 375, { mode: "longest-edge", size: 224 }, 224, 168],
    [3, 1000, { mode: "longest-edge", size: 100 }, 1, 100], // never below 1
    [500, 375, { mode: "exact", size: [100, 200] }, 200, 100], // [height, width]
    [500, 375, { mode: "exact", size: 64 }, 64, 64],
    [500, 375, { mode: "none", size: 0 }, 500, 375],
  ] as [number, number, PreprocessConfig["resize"], number, number][])("%i x %i with %o -> %i x %i", (w, h, r, ew, eh) => {
    expect(targetSize(w, h, r)).toEqual({ width: ew, height: eh });
  });

  it("property: shortest-edge puts the short side at s and keeps the aspect ratio to within rounding", () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 5000 }), fc.integer({ min: 1, max: 5000 }), fc.integer({ min: 1, max: 512 }), (w, h, s) => {
        const t = targetSize(w, h, { mode: "shortest-edge", size: s });
        expect(Math.min(t.width, t.height)).toBe(Math.min(s, Math.max(t.width, t.height)));
        const long = Math.max(t.width, t.height);
        expect(Math.abs(long - Math.max(1, (Math.max(w, h) * s) / Math.min(w, h)))).toBeLessThanOrEqual(0.5);
      }),
    );
  });
});

describe("centerCrop and pad", () => {
  it("property: crop has the requested shape and equals the source window at floor((size - crop) / 2)", () => {
    fc.assert(
      fc.property(arbImage(), fc.integer({ min: 1, max: 24 }), fc.integer({ min: 1, max: 24 }), (img, cw, ch) => {
        fc.pre(cw <= img.width && ch <= img.height);
        const out = centerCrop(img, cw, ch);
        expect([out.width, out.height, out.channels]).toEqual([cw, ch, img.channels]);
        const x0 = Math.floor((img.width - cw) / 2);
        const y0 = Math.floor((img.height - ch) / 2);
        for (let y = 0; y < ch; y++) for (let x = 0; x < cw; x++) expect(pixel(out, x, y)).toEqual(pixel(img, x0 + x, y0 + y));
      }),
    );
  });

  it("property: cropping to the image's own size is the identity", () => {
    fc.assert(
      fc.property(arbImage(), (img) => {
        expect(centerCrop(img, img.width, img.height).data).toEqual(img.data);
      }),
    );
  });

  it("a crop larger than the image pads around it with the fill colour", () => {
    const img: RawImage = { data: new Uint8Array([1, 2, 3, 4, 5, 6]), width: 2, height: 1, channels: 3 };
    const out = centerCrop(img, 3, 2, [9, 9, 9]);
    expect([out.width, out.height]).toEqual([3, 2]);
    expect(Array.from(out.data)).toEqual([1, 2, 3, 4, 5, 6, 9, 9, 9, ...new Array(9).fill(9)]);
  });

  it("property: pad adds borders of the fill value around an unchanged interior", () => {
    fc.assert(
      fc.property(arbImage(8), fc.nat(3), fc.nat(3), fc.nat(3), fc.nat(3), (img, top, right, bottom, left) => {
        const fill = Array.from({ length: img.channels }, (_, k) => 250 - k);
        const out = pad(img, { top, right, bottom, left }, fill);
        expect([out.width, out.height]).toEqual([img.width + left + right, img.height + top + bottom]);
        for (let y = 0; y < out.height; y++) {
          for (let x = 0; x < out.width; x++) {
            const inside = x >= left && x < left + img.width && y >= top && y < top + img.height;
            expect(pixel(out, x, y)).toEqual(inside ? pixel(img, x - left, y - top) : fill);
          }
        }
      }),
    );
  });
});

describe("orient (EXIF 1-8)", () => {
  // A 3x2 image whose pixel values are their stored positions: a b c / d e f.
  const img: RawImage = { data: new Uint8Array([1, 2, 3, 4, 5, 6]), width: 3, height: 2, channels: 1 };
  it.each([
    [1, 3, 2, [1, 2, 3, 4, 5, 6]],
    [2, 3, 2, [3, 2, 1, 6, 5, 4]], // mirror left-right
    [3, 3, 2, [6, 5, 4, 3, 2, 1]], // rotate 180
    [4, 3, 2, [4, 5, 6, 1, 2, 3]], // mirror top-bottom
    [5, 2, 3, [1, 4, 2, 5, 3, 6]], // transpose
    [6, 2, 3, [4, 1, 5, 2, 6, 3]], // rotate 90 clockwise
    [7, 2, 3, [6, 3, 5, 2, 4, 1]], // transverse
    [8, 2, 3, [3, 6, 2, 5, 1, 4]], // rotate 90 counter-clockwise
  ])("orientation %i -> %ix%i %j", (o, w, h, data) => {
    const out = orient(img, o);
    expect([out.width, out.height, Array.from(out.data)]).toEqual([w, h, data]);
  });

  it("property: 6 then 8 (and 3 then 3, 2 then 2) give back the original, with all channels moved together", () => {
    fc.assert(
      fc.property(arbImage(), (im) => {
        expect(orient(orient(im, 6), 8).data).toEqual(im.data);
        expect(orient(orient(im, 3), 3).data).toEqual(im.data);
        expect(orient(orient(im, 2), 2).data).toEqual(im.data);
      }),
    );
  });
});

describe("toRGB and normalizeToTensor", () => {
  it("replicates gray, composites alpha on the background with rounding", () => {
    expect(Array.from(toRGB({ data: new Uint8Array([7]), width: 1, height: 1, channels: 1 }).data)).toEqual([7, 7, 7]);
    const rgba: RawImage = { data: new Uint8Array([200, 100, 0, 255, 200, 100, 0, 0, 200, 100, 0, 128]), width: 3, height: 1, channels: 4 };
    // 128/255 of (200,100,0) over (0,50,250): round(200*128/255)=100, round((100*128+50*127)/255)=75, round(250*127/255)=125
    expect(Array.from(toRGB(rgba, [0, 50, 250]).data)).toEqual([200, 100, 0, 0, 50, 250, 100, 75, 125]);
    expect(Array.from(toRGB({ data: new Uint8Array([10, 0]), width: 1, height: 1, channels: 2 }).data)).toEqual([255, 255, 255]);
  });

  it("property: NCHW and NHWC hold the same float32 values (v / 255 - mean) / std", () => {
    fc.assert(
      fc.property(arbImage(12).map((im) => toRGB(im)), (im) => {
        const mean: [number, number, number] = [0.485, 0.456, 0.406];
        const std: [number, number, number] = [0.229, 0.224, 0.225];
        const nchw = normalizeToTensor(im, mean, std, "NCHW");
        const nhwc = normalizeToTensor(im, mean, std, "NHWC");
        expect(nchw.dims).toEqual([1, 3, im.height, im.width]);
        expect(nhwc.dims).toEqual([1, im.height, im.width, 3]);
        const n = im.width * im.height;
        for (let p = 0; p < n; p++) {
          for (let c = 0; c < 3; c++) {
            const expected = Math.fround((im.data[p * 3 + c]! / 255 - mean[c]!) / std[c]!);
            expect(nchw.data[c * n + p]).toBe(expected);
            expect(nhwc.data[p * 3 + c]).toBe(expected);
          }
        }
      }),
      { numRuns: 50 },
    );
  });
});

describe("preprocessImage (the recipe on decoded pixels)", () => {
  const photo: RawImage = { data: new Uint8Array(40 * 30 * 4).map((_, i) => (i * 37) % 256), width: 40, height: 30, channels: 4 };

  it("letterboxes: longest-edge resize, then a larger square crop pads with the background", () => {
    const cfg: PreprocessConfig = { ...DEFAULT_PREPROCESS, resize: { mode: "longest-edge", size: 20 }, crop: [20, 20], mean: [0, 0, 0], std: [1, 1, 1], background: [255, 0, 0] };
    const out = preprocessImage(photo, cfg);
    expect(out.dims).toEqual([1, 3, 20, 20]);
    // resized to 20x15, padded top 2 / bottom 3 rows: the first row is the background colour (1, 0, 0)
    const n = 400;
    for (let x = 0; x < 20; x++) expect([out.data[x], out.data[n + x], out.data[2 * n + x]]).toEqual([1, 0, 0]);
  });

  it("validates the config and names the bad field", () => {
    const bad = { ...DEFAULT_PREPROCESS, std: [0.2, 0, 0.2] } as PreprocessConfig;
    expect(() => preprocessImage(photo, bad)).toThrow(ConfigError);
    expect(() => preprocessImage(photo, bad)).toThrow(/preprocess\.std\[1\]/);
  });
});
