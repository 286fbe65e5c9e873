import { ImageError } from "../errors.ts";
import type { JpegHeader } from "./jpeg-header.ts";
import type { WebpHeader } from "./webp-header.ts";

/**
 * The decode paths whose memory differs, each with its own pixel limit:
 * - "jpeg-baseline": sequential JPEG decoded by rows at a reduced scale (no full-resolution buffer), and a
 *   progressive JPEG decoded at 1/8 by the DC-only decoder (codecs/jpeg-dc.ts: one Int16 per block);
 * - "jpeg-progressive": progressive JPEG decoded by libjpeg (scale 1/4 or larger), or a sequential one split
 *   into per-component scans, which needs libjpeg's whole-image coefficient buffer, ~2 bytes per sample
 *   whatever the output scale;
 * - "jpeg-cmyk": 4-component JPEG, decoded whole by jpeg-js;
 * - "png": PNG at 8 bits or below, held whole by the png crate;
 * - "png16": 16-bit PNG (about 2.6x the bytes per pixel of "png" inside the png crate);
 * - "webp": opaque lossy WebP, decoded shrunk on load, a few rows at a time;
 * - "webp-lossless": lossless WebP (one 32-bit word per pixel inside libwebp) and lossy WebP with alpha
 *   (libwebp keeps a full-size alpha plane).
 */
export type DecodePath = "jpeg-baseline" | "jpeg-progressive" | "jpeg-cmyk" | "png" | "png16" | "webp" | "webp-lossless";

export interface DecodeLimits {
  /** Largest width*height per decode path, checked from the header. */
  maxPixels: Record<DecodePath, number>;
  /** Largest libjpeg coefficient buffer (JpegHeader.coefficientBytes) for "jpeg-progressive". */
  maxJpegCoefficientBytes: number;
}

/** libjpeg's JPEG_MAX_DIMENSION: it refuses a longer side ("Maximum supported image dimension is 65500 pixels"). */
export const JPEG_MAX_SIDE = 65500;

/**
 * The path a JPEG takes. `dcOnly`: the file is decoded at 1/8 by the DC-only decoder (a progressive file that
 * `isDcDecodable`, at shrink-on-load scale 8; see `decodePathAtScale`), which needs no coefficient buffer.
 */
export function jpegDecodePath(h: Pick<JpegHeader, "components" | "buffered">, dcOnly = false): DecodePath {
  if (h.components === 4) return "jpeg-cmyk";
  return h.buffered && !dcOnly ? "jpeg-progressive" : "jpeg-baseline";
}

/**
 * The decode path of an image (readImageHeader's, which assumes libjpeg) once the shrink-on-load scale is
 * known: a progressive JPEG the DC-only decoder reads (`dcDecodable`) takes the baseline path at scale 8.
 */
export function decodePathAtScale(h: { path: DecodePath; dcDecodable?: boolean }, scale: number): DecodePath {
  return h.path === "jpeg-progressive" && h.dcDecodable === true && scale === 8 ? "jpeg-baseline" : h.path;
}

export function pngDecodePath(h: { bitDepth: number }): DecodePath {
  return h.bitDepth === 16 ? "png16" : "png";
}

export function webpDecodePath(h: Pick<WebpHeader, "kind" | "hasAlpha">): DecodePath {
  return h.kind === "lossless" || h.hasAlpha ? "webp-lossless" : "webp";
}

const LABEL: Record<DecodePath, string> = {
  "jpeg-baseline": "baseline JPEG",
  "jpeg-progressive": "progressive JPEG",
  "jpeg-cmyk": "CMYK JPEG",
  png: "PNG",
  png16: "16-bit PNG",
  webp: "lossy WebP",
  "webp-lossless": "lossless WebP (or lossy WebP with alpha)",
};

const mp = (pixels: number): string => {
  if (pixels < 1e6) return `${pixels} pixels`;
  const m = pixels / 1e6;
  return `${m >= 10 ? Math.round(m) : Math.round(m * 10) / 10} MP`;
};

/**
 * Refuse, from the header, what `limits` says does not fit: width*height over the path's pixel limit, and a
 * progressive JPEG whose coefficient buffer is over the budget. The message names the path, the size, the
 * limit and what to do.
 */
export function checkDecodeLimits(
  info: { width: number; height: number; path: DecodePath; coefficientBytes: number; progressive?: boolean },
  limits: DecodeLimits,
): void {
  const { width, height, path } = info;
  const pixels = width * height;
  const max = limits.maxPixels[path];
  if (pixels > max) {
    // a progressive JPEG on the baseline path is one the DC-only decoder reads at 1/8
    const label = path === "jpeg-baseline" && info.progressive ? "progressive JPEG decoded at 1/8" : LABEL[path];
    const limitOf = path === "jpeg-baseline" ? "baseline JPEG or a progressive JPEG decoded at 1/8" : LABEL[path];
    throw new ImageError(
      "image_too_large",
      `the image is a ${width}x${height} (${mp(pixels)}) ${label}; the limit for a ${limitOf} is ${mp(max)}: resize it to fewer pixels${path === "jpeg-progressive" ? " or save it as a baseline (non-progressive) JPEG, which may be up to " + mp(limits.maxPixels["jpeg-baseline"]) : ""} and send it again`,
      { width, height, pixels, path, maxPixels: max },
    );
  }
  if (path === "jpeg-progressive" && info.coefficientBytes > limits.maxJpegCoefficientBytes) {
    const mib = (b: number): string => `${Math.round(b / 1048576)} MiB`;
    throw new ImageError(
      "image_too_large",
      `the image is a ${width}x${height} (${mp(pixels)}) progressive JPEG whose decoding needs ${mib(info.coefficientBytes)} of coefficient memory; the limit is ${mib(limits.maxJpegCoefficientBytes)} (chroma subsampling 4:2:0 halves it): save it as a baseline JPEG or resize it, and send it again`,
      { width, height, pixels, path, coefficientBytes: info.coefficientBytes, maxCoefficientBytes: limits.maxJpegCoefficientBytes },
    );
  }
}
