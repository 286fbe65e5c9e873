import decodeJpegJs from "jpeg-js/lib/decoder.js";
import { ImageError } from "../errors.ts";
import type { RawImage } from "../image.ts";

/**
 * 4-component (CMYK / YCCK) JPEGs. libjpeg has no CMYK->RGB conversion, so these stay with jpeg-js (pure
 * JS, identical in Node and workerd; decoded whole, no shrink-on-load, hence their own pixel limit). Only
 * this case uses it: every other JPEG goes through libjpeg-turbo (codecs/libjpeg-turbo.ts), so a given file
 * always meets the same decoder.
 *
 * Adobe APP14 convention (the header check guarantees the marker is present): Photoshop writes CMYK
 * inverted (stored = 255 - ink), with transform 0 (plain CMYK) or 2 (YCCK: Y/Cb/Cr encode the inverted
 * C/M/Y, K stored inverted). jpeg-js undoes both, yielding ink amounts C, M, Y, K in 0..255, and converts
 * with the usual naive formula R = (255 - C)(255 - K) / 255 (Pillow's cmyk2rgb; no ICC colour management),
 * truncated to an integer.
 */
export function decodeCmykJpeg(bytes: Uint8Array, maxPixels: number): RawImage {
  let out: { width: number; height: number; data: Uint8Array };
  try {
    out = decodeJpegJs(bytes, {
      useTArray: true,
      formatAsRGBA: false,
      maxResolutionInMP: Math.max(1, maxPixels / 1e6),
      // blocks (256 B per 64 px per component) + component planes + output: ~10 B/px for 4 components
      maxMemoryUsageInMB: Math.max(64, Math.ceil((maxPixels * 12) / 1e6)),
    });
  } catch (e) {
    const detail = e instanceof Error ? e.message : String(e);
    throw new ImageError("corrupt_image", `the CMYK JPEG could not be decoded (${detail}); send the complete, unmodified file`, { format: "jpeg", decoder: detail });
  }
  return { data: out.data, width: out.width, height: out.height, channels: 3 };
}
