// The fast paths of the pixel pipeline give the same bits as the plain operations they replace:
// - RGB is resampled packed one pixel per int32 (resample-rgbx.ts); gray is resampled one byte at a time
//   (resample-bytes.ts). Resizing an RGB image must equal resizing each of its channels as a gray image.
// - resizeWindow (resize + crop in one pass, computing only the window) equals a crop of the full resize.
// - orient walks source indices incrementally (RGBA one int32 per pixel); it must equal the definition
//   of each EXIF orientation, pixel by pixel.
// - preprocessImage reads opaque RGBA in place and resizes + crops in one pass; it must equal the recipe
//   spelled out with the public operations (toRGB -> resize -> centerCrop -> normalizeToTensor).
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { DEFAULT_PREPROCESS, centerCrop, normalizeToTensor, orient, preprocessImage, resize, targetSize, toRGB, type PreprocessConfig, type RawImage } from "../../shared/src/index.ts";
import { resizeWindow } from "../../shared/src/ops/resize.ts";

const arbImage = (channels: 1 | 2 | 3 | 4, maxSide: number): fc.Arbitrary<RawImage> =>
  fc
    .record({ width: fc.integer({ min: 1, max: maxSide }), height: fc.integer({ min: 1, max: maxSide }) })
    .chain(({ width, height }) =>
      fc.uint8Array({ minLength: width * height * channels, maxLength: width * height * channels }).map((data) => ({ data, width, height, channels })),
    );

function plane(img: RawImage, c: number): RawImage {
  const out = new Uint8Array(img.width * img.height);
  for (let p = 0; p < out.length; p++) out[p] = img.data[p * img.channels + c]!;
  return { data: out, width: img.width, height: img.height, channels: 1 };
}

function crop(img: RawImage, x: number, y: number, width: number, height: number): Uint8Array {
  const out = new Uint8Array(width * height * img.channels);
  for (let r = 0; r < height; r++) {
    const s = ((y + r) * img.width + x) * img.channels;
    out.set(img.data.subarray(s, s + width * img.channels), r * width * img.channels);
  }
  return out;
}

/** Sizes that exercise every tap layout: enlarging, 4 taps, 8+ taps, and inputs shorter than 4 samples. */
const arbSize = fc.oneof(fc.integer({ min: 1, max: 12 }), fc.integer({ min: 1, max: 90 }));

describe("RGB resampling (packed RGBX kernels)", () => {
  it("property: resizing RGB equals resizing each channel as a gray image (independent kernels)", () => {
    fc.assert(
      fc.property(arbImage(3, 70), arbSize, arbSize, (img, w, h) => {
        const rgb = resize(img, w, h);
        for (let c = 0; c < 3; c++) expect(plane(rgb, c)).toEqual(resize(plane(img, c), w, h));
      }),
      { numRuns: 150 },
    );
  });

  it("property: resizeWindow equals the same window of the full resize, for any channel count", () => {
    const arb = fc.constantFrom<1 | 2 | 3 | 4>(1, 2, 3, 4).chain((c) => arbImage(c, 60));
    const arbCase = fc.tuple(arb, arbSize, arbSize).chain(([img, w, h]) =>
      fc.record({
        img: fc.constant(img),
        w: fc.constant(w),
        h: fc.constant(h),
        x: fc.integer({ min: 0, max: w - 1 }),
        y: fc.integer({ min: 0, max: h - 1 }),
        cw: fc.integer({ min: 1, max: w }),
        ch: fc.integer({ min: 1, max: h }),
      }),
    );
    fc.assert(
      fc.property(arbCase, ({ img, w, h, x, y, cw, ch }) => {
        const width = Math.min(cw, w - x);
        const height = Math.min(ch, h - y);
        const win = resizeWindow(img, w, h, { x, y, width, height });
        expect([win.width, win.height, win.channels]).toEqual([width, height, img.channels]);
        expect(win.data).toEqual(crop(resize(img, w, h), x, y, width, height));
      }),
      { numRuns: 150 },
    );
  });

  it("refuses a window outside the result", () => {
    const img: RawImage = { data: new Uint8Array(4 * 4 * 3), width: 4, height: 4, channels: 3 };
    expect(() => resizeWindow(img, 8, 8, { x: 4, y: 0, width: 5, height: 1 })).toThrow(/does not lie inside the 8x8 result/);
  });
});

describe("preprocessImage fast path", () => {
  const recipe = (img: RawImage, cfg: PreprocessConfig, layout: "NCHW" | "NHWC") => {
    let rgb = toRGB(img, cfg.background);
    const size = targetSize(rgb.width, rgb.height, cfg.resize);
    rgb = resize(rgb, size.width, size.height);
    if (cfg.crop) rgb = centerCrop(rgb, cfg.crop[1], cfg.crop[0], cfg.background);
    return normalizeToTensor(rgb, cfg.mean, cfg.std, layout);
  };
  const arbConfig: fc.Arbitrary<PreprocessConfig> = fc.record({
    mode: fc.constantFrom("shortest-edge", "longest-edge", "exact", "none") as fc.Arbitrary<PreprocessConfig["resize"]["mode"]>,
    size: fc.integer({ min: 1, max: 48 }),
    crop: fc.option(fc.tuple(fc.integer({ min: 1, max: 48 }), fc.integer({ min: 1, max: 48 })), { nil: null }),
  }).map(({ mode, size, crop }) => ({ ...DEFAULT_PREPROCESS, resize: { mode, size }, crop, background: [10, 200, 30] }));

  it("property: equals toRGB -> resize -> centerCrop -> normalizeToTensor, for every channel count and recipe", () => {
    const arb = fc.constantFrom<1 | 2 | 3 | 4>(1, 2, 3, 4).chain((c) => arbImage(c, 50));
    fc.assert(
      fc.property(arb, arbConfig, fc.constantFrom<"NCHW" | "NHWC">("NCHW", "NHWC"), (img, cfg, layout) => {
        const fast = preprocessImage(img, cfg, { layout });
        const slow = recipe(img, cfg, layout);
        expect(fast.dims).toEqual(slow.dims);
        expect(fast.data).toEqual(slow.data);
      }),
      { numRuns: 150 },
    );
  });

  it("property: opaque RGBA (read in place) gives the same tensor as the RGB it holds", () => {
    fc.assert(
      fc.property(arbImage(3, 50), arbConfig, (rgb, cfg) => {
        const rgba = new Uint8Array(rgb.width * rgb.height * 4).fill(255);
        for (let p = 0; p < rgb.width * rgb.height; p++) rgba.set(rgb.data.subarray(p * 3, p * 3 + 3), p * 4);
        const fromRgba = preprocessImage({ ...rgb, data: rgba, channels: 4 }, cfg);
        expect(fromRgba.data).toEqual(preprocessImage(rgb, cfg).data);
      }),
      { numRuns: 100 },
    );
  });
});

describe("orient fast path", () => {
  /** The stored pixel that EXIF orientation `o` puts at output (x, y) of a `w`x`h` image (the EXIF definition). */
  const storedPixel = (o: number, w: number, h: number, x: number, y: number): [number, number] =>
    [
      [x, y],
      [x, y],
      [w - 1 - x, y],
      [w - 1 - x, h - 1 - y],
      [x, h - 1 - y],
      [y, x],
      [y, h - 1 - x],
      [w - 1 - y, h - 1 - x],
      [w - 1 - y, x],
    ][o] as [number, number];

  it("property: every orientation 1-8 puts each stored pixel where EXIF says, for every channel count", () => {
    const arb = fc.constantFrom<1 | 2 | 3 | 4>(1, 2, 3, 4).chain((c) => arbImage(c, 30));
    fc.assert(
      fc.property(arb, fc.integer({ min: 1, max: 8 }), (img, o) => {
        const out = orient(img, o);
        const c = img.channels;
        expect([out.width, out.height]).toEqual(o >= 5 ? [img.height, img.width] : [img.width, img.height]);
        const expected = new Uint8Array(out.data.length);
        for (let y = 0; y < out.height; y++) {
          for (let x = 0; x < out.width; x++) {
            const [sx, sy] = storedPixel(o, img.width, img.height, x, y);
            expected.set(img.data.subarray((sy * img.width + sx) * c, (sy * img.width + sx + 1) * c), (y * out.width + x) * c);
          }
        }
        expect(out.data).toEqual(expected);
      }),
      { numRuns: 200 },
    );
  });
});
