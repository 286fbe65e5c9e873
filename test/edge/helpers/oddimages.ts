import { readImageHeader } from "../../../shared/src/index.ts";
import { PIXEL_LIMIT_VARS } from "../../../edge/src/limits.ts";
// What the worker must answer for each file of ../shared/data/oddimages (see its README.md table).
// Files list their displayed size (after EXIF orientation) from the header: over their decode path's
// MAX_PIXELS_* limit (pixelLimitFor) they are
// refused with 413 before decoding; within it they decode (200) or fail with `broken`.
export interface BrokenExpectation {
  status: 400 | 413 | 415;
  code: string;
}
export type OddExpectation = { size: [number, number]; broken?: BrokenExpectation } | BrokenExpectation;

/**
 * The status and code a worker must answer (code undefined for 200): over `maxPixels` decoded it is a 413.
 * (With size=native an image over `maxTensorPixels` is scaled down to fit, so it still classifies.)
 */
export function expectedOutcome(e: OddExpectation, limits: { maxPixels: number }, _size: "default" | "native"): { status: number; code?: string } {
  if (!("size" in e)) return e;
  const pixels = e.size[0] * e.size[1];
  if (pixels > limits.maxPixels) return { status: 413, code: "image_too_large" };
  return e.broken ?? { status: 200 };
}

/** The pixel limit (from wrangler vars) of the decode path a file takes; Infinity when its header is unreadable. */
export function pixelLimitFor(bytes: Uint8Array, vars: Record<string, string>): number {
  try {
    return Number(vars[PIXEL_LIMIT_VARS[readImageHeader(bytes).path]]);
  } catch {
    return Infinity;
  }
}

export const ODDIMAGES_EXPECTED: Record<string, OddExpectation> = {
  "exiforient__Landscape_3.jpg": { size: [1800, 1200] },
  "exiforient__Landscape_6.jpg": { size: [1800, 1200] },
  "exiforient__Landscape_8.jpg": { size: [1800, 1200] },
  "jpeg-js__apsara.jpg": { size: [580, 599] },
  "jpeg-js__black-6000x6000.jpg": { size: [6000, 6000] },
  "jpeg-js__cmyk-grey.jpg": { size: [300, 389] },
  "jpeg-js__rgb.jpg": { size: [350, 262] },
  "jpeg-js__skater-progressive.jpg": { size: [256, 256] },
  "jpeg-js__table-with-good-e1.jpg": { size: [768, 1024] },
  "jpeg-js__truecolor.jpg": { size: [1280, 2000] },
  "libjpeg-turbo__monkey12.jpg": { status: 415, code: "unsupported_variant" },
  "libjpeg-turbo__monkey16.png": { size: [149, 227] },
  "pillow__app13-multiple.jpg": { size: [256, 160] },
  "pillow__app13.jpg": { size: [4, 4] },
  "pillow__hopper_gray.jpg": { size: [128, 128] },
  "pillow__jfif_unit_cm.jpg": { size: [1, 1] },
  "pillow__pil_sample_cmyk.jpg": { size: [100, 100] },
  "pillow__xmp_test.jpg": { size: [2000, 1072] },
  "sharp__2569067123_aca715a2ee_o.jpg": { size: [2725, 2225] },
  "sharp__2x2_fdcce6.png": { size: [2, 2] },
  "sharp__4.webp": { size: [1024, 772] },
  "sharp__Channel_digital_image_CMYK_color.jpg": { size: [500, 333] },
  "sharp__Channel_digital_image_CMYK_color_no_profile.jpg": { size: [500, 333] },
  "sharp__Crash_test.gif": { status: 415, code: "unsupported_format" },
  "sharp__Flag_of_the_Netherlands-alpha.png": { size: [900, 600] },
  "sharp__centered_image.jpeg": { size: [75, 105] },
  "sharp__corrupt-header.jpg": { status: 400, code: "corrupt_image" },
  "sharp__embedgravitybird.png": { size: [576, 384] },
  "sharp__giant-image.jpg": { status: 413, code: "image_too_large" },
  "sharp__grey-8bit-alpha.png": { size: [400, 300] },
  "sharp__truncated.jpg": { size: [2725, 2225], broken: { status: 400, code: "corrupt_image" } },
  "sharp__with-alpha.png": { size: [256, 192] },
};
