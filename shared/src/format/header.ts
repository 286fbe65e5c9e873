import { ImageError } from "../errors.ts";
import { uprightSize } from "../ops/orient.ts";
import type { ImageFormat } from "../image.ts";
import { isDcDecodable } from "../codecs/jpeg-dc.ts";
import { jpegDecodePath, pngDecodePath, webpDecodePath, type DecodePath } from "./decode-limits.ts";
import { readJpegHeader } from "./jpeg-header.ts";
import { readPngHeader, scanPngChunks } from "./png-header.ts";
import { sniffFormat } from "./sniff.ts";
import { readWebpHeader } from "./webp-header.ts";
import { CONVERT_HINT, SUPPORTED_FORMATS_TEXT } from "./supported.ts";


export interface ImageHeader {
  format: ImageFormat;
  /** Size as displayed, i.e. after EXIF orientation (orientations 5-8 swap the stored width and height). */
  width: number;
  height: number;
  /** EXIF orientation 1-8; 1 when the file has none. */
  orientation: number;
  /**
   * Which decode path (and so which limit) the image takes when libjpeg decodes it. A `dcDecodable` JPEG
   * decoded at 1/8 takes "jpeg-baseline" instead: `decodePathAtScale(header, scale)`.
   */
  path: DecodePath;
  /** libjpeg's coefficient buffer for a progressive JPEG (2 bytes per sample); 0 for every other path. */
  coefficientBytes: number;
  /** Present (true) for a progressive JPEG that the DC-only decoder reads when the shrink-on-load scale is 1/8. */
  dcDecodable?: true;
  /** Present (true) for a progressive JPEG (SOF2/SOF6/SOF10/SOF14). */
  progressive?: true;
}

const NAMES: Record<ImageFormat, string> = {
  jpeg: "JPEG",
  png: "PNG",
  webp: "WebP",
  gif: "GIF",
  bmp: "BMP",
  tiff: "TIFF",
  avif: "AVIF",
  unknown: "unknown",
};

/** Refuse empty input and anything that is not JPEG, PNG or WebP, naming what is supported. */
export function requireSupportedFormat(bytes: Uint8Array): "jpeg" | "png" | "webp" {
  if (bytes.length === 0) {
    throw new ImageError("empty_input", "the request body is empty: send the image bytes (JPEG, PNG or WebP) as the body", { bytes: 0 });
  }
  const format = sniffFormat(bytes);
  if (format === "jpeg" || format === "png" || format === "webp") return format;
  if (format === "unknown") {
    const head = Array.from(bytes.subarray(0, 8), (b) => b.toString(16).padStart(2, "0")).join(" ");
    throw new ImageError(
      "unsupported_format",
      `the bytes are not a recognised image (they start with ${head}); supported: ${SUPPORTED_FORMATS_TEXT}; ${CONVERT_HINT}`,
      { format, firstBytes: head },
    );
  }
  throw new ImageError("unsupported_format", `${NAMES[format]} images are not supported; supported: ${SUPPORTED_FORMATS_TEXT}; ${CONVERT_HINT}`, {
    format,
  });
}

/**
 * Format, size and EXIF orientation from the header alone: no pixel memory is allocated and no decoder runs,
 * so a decompression bomb is cheap to refuse. Throws ImageError for empty, unsupported or malformed headers.
 */
export function readImageHeader(bytes: Uint8Array): ImageHeader {
  const format = requireSupportedFormat(bytes);
  let width: number;
  let height: number;
  let orientation: number;
  let path: DecodePath = "png";
  let coefficientBytes = 0;
  let jpegFlags: { dcDecodable?: true; progressive?: true } = {};
  if (format === "jpeg") {
    const h = readJpegHeader(bytes);
    ({ width, height, orientation } = h);
    path = jpegDecodePath(h);
    if (path === "jpeg-progressive") coefficientBytes = h.coefficientBytes;
    if (h.process === "progressive") jpegFlags = { progressive: true, ...(isDcDecodable(h) ? { dcDecodable: true } : {}) };
  } else if (format === "webp") {
    const h = readWebpHeader(bytes);
    ({ width, height, orientation } = h);
    path = webpDecodePath(h);
  } else {
    const h = scanPngChunks(bytes, readPngHeader(bytes), false);
    ({ width, height, orientation } = h);
    path = pngDecodePath(h);
  }
  return { format, ...uprightSize(width, height, orientation), orientation, path, coefficientBytes, ...jpegFlags };
}

/** Format a pixel count as "280 MP" / "0.2 MP". */
export function megapixels(pixels: number): string {
  const mp = pixels / 1e6;
  return `${mp >= 10 ? Math.round(mp) : Math.round(mp * 10) / 10} MP`;
}

/** Format "20000x14000 (280 MP)". */
export function describeSize(width: number, height: number): string {
  return `${width}x${height} (${megapixels(width * height)})`;
}

/** Refuse images whose header size exceeds `maxPixels`, with an actionable message. */
export function checkPixelLimit(width: number, height: number, maxPixels: number): void {
  if (width * height > maxPixels) {
    throw new ImageError(
      "image_too_large",
      `the image is ${describeSize(width, height)}; the limit is ${megapixels(maxPixels)}: resize it to fewer pixels or raise maxPixels`,
      { width, height, pixels: width * height, maxPixels },
    );
  }
}
