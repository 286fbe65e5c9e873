// Every file in ../shared/data/oddimages has an expected outcome here: decoded (size after EXIF orientation,
// channels, and pixels checked against Pillow) or a specific typed ImageError.
//
// Pixel reference: test/shared/fixtures/pil-reference.json, written by fixtures/pil-reference.py with Debian's
// Pillow 9.4 (ImageOps.exif_transpose, then RGB with alpha composited on white). "exact" means the sha256 of
// our RGB bytes equals Pillow's (both run libjpeg-turbo-family IDCT + fancy upsampling); "close" (CMYK only,
// decoded by jpeg-js with nearest chroma upsampling) means per-channel means within 1.0 and 8x8 grid
// samples within 3 levels.
import { createHash } from "node:crypto";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { DEFAULT_PREPROCESS, ImageError, decodeImage, readImageHeader, type ImageErrorCode, type RawImage } from "../../shared/src/index.ts";
import { initCodecs } from "../../shared/src/runtime/node.ts";
import { ODDIMAGES_DIR, hasOddImages, needs } from "../helpers/data.ts";

type Expected =
  | { size: [number, number]; channels: 1 | 2 | 3 | 4; orientation?: number; pixels: "exact" | "close" }
  | { error: ImageErrorCode };

const EXPECTED: Record<string, Expected> = {
  "exiforient__Landscape_3.jpg": { size: [1800, 1200], channels: 3, orientation: 3, pixels: "exact" },
  "exiforient__Landscape_6.jpg": { size: [1800, 1200], channels: 3, orientation: 6, pixels: "exact" },
  "exiforient__Landscape_8.jpg": { size: [1800, 1200], channels: 3, orientation: 8, pixels: "exact" },
  "jpeg-js__apsara.jpg": { size: [580, 599], channels: 3, pixels: "exact" }, // gray JPEG: mozjpeg outputs RGB
  "jpeg-js__black-6000x6000.jpg": { size: [6000, 6000], channels: 3, pixels: "exact" }, // 36 MP < 40 MP default
  "jpeg-js__cmyk-grey.jpg": { size: [300, 389], channels: 3, pixels: "close" }, // progressive CMYK
  "jpeg-js__rgb.jpg": { size: [350, 262], channels: 3, pixels: "exact" },
  "jpeg-js__skater-progressive.jpg": { size: [256, 256], channels: 3, pixels: "exact" },
  "jpeg-js__table-with-good-e1.jpg": { size: [768, 1024], channels: 3, pixels: "exact" },
  "jpeg-js__truecolor.jpg": { size: [1280, 2000], channels: 3, pixels: "exact" },
  "libjpeg-turbo__monkey12.jpg": { error: "unsupported_variant" }, // 12-bit
  "libjpeg-turbo__monkey16.png": { size: [149, 227], channels: 3, pixels: "exact" }, // 16-bit, rounded to 8
  "pillow__app13-multiple.jpg": { size: [256, 160], channels: 3, pixels: "exact" },
  "pillow__app13.jpg": { size: [4, 4], channels: 3, pixels: "exact" },
  "pillow__hopper_gray.jpg": { size: [128, 128], channels: 3, pixels: "exact" },
  "pillow__jfif_unit_cm.jpg": { size: [1, 1], channels: 3, pixels: "exact" },
  "pillow__pil_sample_cmyk.jpg": { size: [100, 100], channels: 3, pixels: "close" },
  "pillow__xmp_test.jpg": { size: [2000, 1072], channels: 3, pixels: "exact" },
  "sharp__2569067123_aca715a2ee_o.jpg": { size: [2725, 2225], channels: 3, pixels: "exact" },
  "sharp__2x2_fdcce6.png": { size: [2, 2], channels: 3, pixels: "exact" },
  "sharp__4.webp": { size: [1024, 772], channels: 3, pixels: "exact" }, // lossy WebP: Pillow 9.4 also runs libwebp 1.2.4
  "sharp__Channel_digital_image_CMYK_color.jpg": { size: [500, 333], channels: 3, pixels: "close" },
  "sharp__Channel_digital_image_CMYK_color_no_profile.jpg": { size: [500, 333], channels: 3, pixels: "close" },
  "sharp__Crash_test.gif": { error: "unsupported_format" },
  "sharp__Flag_of_the_Netherlands-alpha.png": { size: [900, 600], channels: 4, pixels: "exact" }, // palette + tRNS
  "sharp__centered_image.jpeg": { size: [75, 105], channels: 3, pixels: "exact" },
  "sharp__corrupt-header.jpg": { error: "corrupt_image" },
  "sharp__embedgravitybird.png": { size: [576, 384], channels: 4, pixels: "exact" },
  "sharp__giant-image.jpg": { error: "image_too_large" }, // 20000x14000 = 280 MP
  "sharp__grey-8bit-alpha.png": { size: [400, 300], channels: 2, pixels: "exact" },
  "sharp__truncated.jpg": { error: "corrupt_image" },
  "sharp__with-alpha.png": { size: [256, 192], channels: 4, pixels: "exact" },
};

interface PilRecord {
  size?: [number, number];
  mean?: [number, number, number];
  grid?: [number, number, number][];
  sha256?: string;
  error?: string;
}
const PIL: Record<string, PilRecord> = JSON.parse(readFileSync(join(import.meta.dirname, "fixtures/pil-reference.json"), "utf8")).images;

const read = (name: string): Uint8Array => new Uint8Array(readFileSync(join(ODDIMAGES_DIR, name)));
const decodeRgb = (name: string) => decodeImage(read(name), { maxPixels: DEFAULT_PREPROCESS.maxPixels, background: [255, 255, 255] });

function channelMeans(img: RawImage): number[] {
  const sums = [0, 0, 0];
  for (let i = 0; i < img.data.length; i += 3) {
    sums[0]! += img.data[i]!;
    sums[1]! += img.data[i + 1]!;
    sums[2]! += img.data[i + 2]!;
  }
  return sums.map((s) => s / (img.width * img.height));
}

function gridSamples(img: RawImage): number[][] {
  const out: number[][] = [];
  for (let j = 0; j < 8; j++) {
    for (let i = 0; i < 8; i++) {
      const x = Math.floor(((i + 0.5) * img.width) / 8);
      const y = Math.floor(((j + 0.5) * img.height) / 8);
      const at = (y * img.width + x) * 3;
      out.push([img.data[at]!, img.data[at + 1]!, img.data[at + 2]!]);
    }
  }
  return out;
}

describe.skipIf(!hasOddImages)(`oddimages: one expected outcome per file (${hasOddImages ? "" : needs("oddimages")})`, () => {
  beforeAll(() => initCodecs());

  it("covers every file in the folder", () => {
    const files = readdirSync(ODDIMAGES_DIR).filter((f) => f !== "README.md").sort();
    expect(files).toEqual(Object.keys(EXPECTED).sort());
  });

  for (const [name, expected] of Object.entries(EXPECTED)) {
    if ("error" in expected) {
      it(`${name}: refused with ImageError "${expected.error}"`, async () => {
        const err = await decodeRgb(name).then(
          () => null,
          (e: unknown) => e,
        );
        expect(err).toBeInstanceOf(ImageError);
        expect((err as ImageError).code).toBe(expected.error);
        const message = (err as ImageError).message;
        // Actionable: unsupported input names what IS supported; everything says what to do.
        if (expected.error.startsWith("unsupported")) expect(message).toMatch(/supported: JPEG .*, PNG .* and WebP/);
        expect(message).toMatch(/send|resize|re-save|convert/);
      });
      continue;
    }
    it(`${name}: decodes to ${expected.size.join("x")}, ${expected.channels} channel(s), pixels ${expected.pixels} vs Pillow`, async () => {
      const bytes = read(name);
      const header = readImageHeader(bytes);
      expect([header.width, header.height]).toEqual(expected.size);
      expect(header.orientation).toBe(expected.orientation ?? 1);

      const native = await decodeImage(bytes, { maxPixels: DEFAULT_PREPROCESS.maxPixels });
      expect([native.width, native.height, native.channels]).toEqual([...expected.size, expected.channels]);
      expect(native.orientation).toBe(expected.orientation ?? 1);

      const rgb = await decodeRgb(name);
      const ref = PIL[name]!;
      expect([rgb.width, rgb.height]).toEqual(ref.size);
      if (expected.pixels === "exact") {
        expect(createHash("sha256").update(rgb.data).digest("hex")).toBe(ref.sha256);
      } else {
        const means = channelMeans(rgb);
        means.forEach((m, c) => expect(Math.abs(m - ref.mean![c]!)).toBeLessThan(1.0));
        const grid = gridSamples(rgb);
        grid.forEach((px, k) => px.forEach((v, c) => expect(Math.abs(v - ref.grid![k]![c]!)).toBeLessThanOrEqual(3)));
      }
    });
  }

  it("orients the three EXIF test photos to the same upright picture (and a wrong rotation would not match)", async () => {
    const [r3, r6, r8] = await Promise.all(["3", "6", "8"].map((o) => decodeRgb(`exiforient__Landscape_${o}.jpg`)));
    const meanAbsDiff = (a: RawImage, b: RawImage): number => {
      let d = 0;
      for (let i = 0; i < a.data.length; i++) d += Math.abs(a.data[i]! - b.data[i]!);
      return d / a.data.length;
    };
    // Same photo re-encoded per orientation: upright versions differ only by JPEG noise (measured ~3.1).
    expect(meanAbsDiff(r3!, r6!)).toBeLessThan(6);
    expect(meanAbsDiff(r6!, r8!)).toBeLessThan(6);
    // Control: the 180-degree-rotated version of an upright image is far from it.
    const flipped = { ...r3!, data: r3!.data.slice() };
    const px = flipped.width * flipped.height;
    for (let p = 0; p < px; p++) for (let c = 0; c < 3; c++) flipped.data[p * 3 + c] = r3!.data[(px - 1 - p) * 3 + c]!;
    expect(meanAbsDiff(flipped, r6!)).toBeGreaterThan(20);
  });
});
