import { ImageError } from "./errors.ts";
import { checkPixelLimit, requireSupportedFormat } from "./format/header.ts";
import { checkJpegSupported, MAX_JPEG_SCANS, readJpegHeader, type JpegHeader } from "./format/jpeg-header.ts";
import { checkDecodeLimits, JPEG_MAX_SIDE, jpegDecodePath, pngDecodePath, webpDecodePath, type DecodeLimits } from "./format/decode-limits.ts";
import { readPngHeader, scanPngChunks } from "./format/png-header.ts";
import { readWebpHeader } from "./format/webp-header.ts";
import type { DecodedImage, RawImage } from "./image.ts";
import { codecModules } from "./codecs/registry.ts";
import { decodeCmykJpeg } from "./codecs/cmyk-jpeg.ts";
import { decodeJpegDc, isDcDecodable } from "./codecs/jpeg-dc.ts";
import { decodeWithLibjpeg, JWRN, libjpegMemoryBytes } from "./codecs/libjpeg-turbo.ts";
import { decodePng, pngMemoryBytes } from "./codecs/png.ts";
import { decodeWebp, webpMemoryBytes } from "./codecs/webp.ts";
import { orient, uprightSize } from "./ops/orient.ts";
import { toRGB } from "./ops/to-rgb.ts";
import type { ShrinkDenominator } from "./ops/shrink-on-load.ts";

export interface DecodeOptions {
  /** Refuse images with more pixels than this, judged from the header before anything is decoded. */
  maxPixels: number;
  /** Tighter limits per decode path (baseline/progressive JPEG, ...), also checked from the header. */
  limits?: DecodeLimits;
  /**
   * RGB (0..255) to composite transparent pixels onto. When given, the result is always 3-channel RGB;
   * when omitted, the channels the file has are kept (1 gray, 2 gray + alpha, 3 RGB, 4 RGBA).
   */
  background?: [number, number, number];
}

/** libjpeg's memory budget when the caller gives no DecodeLimits (its coefficient buffer and row buffers). */
const DEFAULT_LIBJPEG_BYTES = 256 * 1024 * 1024;

/** libjpeg warnings after which the output holds invented pixels (data missing or undecodable). */
const FATAL_WARNINGS: readonly number[] = [JWRN.HIT_MARKER, JWRN.HUFF_BAD_CODE, JWRN.MUST_RESYNC];

/** Warnings the header walk already reports in its own words. */
const WALKER_WARNINGS: readonly number[] = [JWRN.EXTRANEOUS_DATA, JWRN.JPEG_EOF];

/**
 * Bytes to upright pixels. Order: sniff the format from magic bytes -> read the header -> refuse over
 * `maxPixels` (and `limits`) -> refuse variants the decoders cannot read and corrupt structure -> decode
 * (libjpeg-turbo for JPEG, the DC-only decoder for a progressive JPEG at 1/8, jpeg-js for CMYK/YCCK JPEG, the
 * png crate for PNG, libwebp for WebP) -> apply EXIF orientation. Every failure caused by the input is an ImageError with a stable `code`. What the
 * decoder tolerated (stray bytes, a missing EOI) is listed in `warnings`.
 */
export async function decodeImage(bytes: Uint8Array, opts: DecodeOptions): Promise<DecodedImage> {
  return (await decodeUpright(bytes, opts, "rgb", 1)).image;
}

export interface UprightDecode {
  image: DecodedImage;
  /** Full size as displayed (after EXIF orientation), before any shrink-on-load. */
  fullWidth: number;
  fullHeight: number;
  /** The reduction the JPEG or WebP was decoded at (1 for PNG and CMYK JPEG). */
  scale: ShrinkDenominator;
}

/**
 * decodeImage, with two options for preprocess(): `jpegLayout` "rgba" makes a JPEG decoded by libjpeg, a PNG
 * without alpha and any WebP come as RGBA (alpha 255 everywhere when the file has none) instead of RGB,
 * which preprocess() reads in place; `chooseScale` picks the shrink-on-load reduction (JPEG and WebP) from
 * the displayed full size (shrinkDenominator), or 1 for a full decode.
 */
export async function decodeUpright(
  bytes: Uint8Array,
  opts: DecodeOptions,
  jpegLayout: "rgb" | "rgba",
  chooseScale: ShrinkDenominator | ((width: number, height: number) => ShrinkDenominator),
): Promise<UprightDecode> {
  if (!Number.isFinite(opts?.maxPixels) || opts.maxPixels < 1) throw new Error(`decodeImage: maxPixels must be a positive number, got ${opts?.maxPixels}`);
  const format = requireSupportedFormat(bytes);
  let image: RawImage;
  let orientation: number;
  let warnings: string[] = [];
  let fullWidth: number;
  let fullHeight: number;
  let scale: ShrinkDenominator = 1;
  if (format === "jpeg") {
    const header = readJpegHeader(bytes);
    checkPixelLimit(header.width, header.height, opts.maxPixels);
    ({ width: fullWidth, height: fullHeight } = uprightSize(header.width, header.height, header.orientation));
    // The scale comes before the limits: a progressive JPEG decoded at 1/8 by the DC-only decoder keeps no
    // coefficient buffer, so it is limited like a baseline one (decode-limits.ts, decodePathAtScale).
    if (header.components !== 4) scale = typeof chooseScale === "number" ? chooseScale : chooseScale(fullWidth, fullHeight);
    const dcOnly = scale === 8 && isDcDecodable(header);
    const path = jpegDecodePath(header, dcOnly);
    if (opts.limits) {
      checkDecodeLimits({ width: header.width, height: header.height, path, coefficientBytes: header.buffered ? header.coefficientBytes : 0, progressive: header.process === "progressive" }, opts.limits);
    }
    checkJpegSize(header);
    checkJpegSupported(header);
    warnings = header.warnings.slice();
    if (header.components === 4) {
      image = decodeCmykJpeg(bytes, opts.maxPixels);
      checkSize(image, header.width, header.height);
    } else if (dcOnly) {
      const out = decodeJpegDc(bytes, { channels: jpegLayout === "rgba" ? 4 : 3, maxScans: MAX_JPEG_SCANS });
      warnings.push(...out.warnings);
      if (out.warningCount > out.warnings.length) warnings.push(`${out.warningCount - out.warnings.length} more decoder warnings`);
      image = out.image;
      checkSize(image, Math.ceil(header.width / 8), Math.ceil(header.height / 8));
    } else {
      const memoryLimit = opts.limits ? opts.limits.maxJpegCoefficientBytes + 16 * 1024 * 1024 : DEFAULT_LIBJPEG_BYTES;
      const out = decodeWithLibjpeg(bytes, codecModules().jpeg, { scaleDenom: scale, channels: jpegLayout === "rgba" ? 4 : 3, maxScans: MAX_JPEG_SCANS, memoryLimit });
      const fatal = out.warnings.find((w) => FATAL_WARNINGS.includes(w.code));
      if (fatal) {
        throw new ImageError("corrupt_image", `the JPEG is damaged (${fatal.message}); send the complete, unmodified file`, {
          format: "jpeg",
          decoder: out.warnings.map((w) => w.message),
        });
      }
      for (const w of out.warnings) if (!WALKER_WARNINGS.includes(w.code)) warnings.push(w.message);
      if (out.warningCount > out.warnings.length) warnings.push(`${out.warningCount - out.warnings.length} more decoder warnings`);
      image = out.image;
      checkSize(image, Math.ceil(header.width / scale), Math.ceil(header.height / scale));
    }
    orientation = header.orientation;
  } else if (format === "webp") {
    const header = readWebpHeader(bytes);
    checkPixelLimit(header.width, header.height, opts.maxPixels);
    if (opts.limits) checkDecodeLimits({ width: header.width, height: header.height, path: webpDecodePath(header), coefficientBytes: 0 }, opts.limits);
    ({ width: fullWidth, height: fullHeight } = uprightSize(header.width, header.height, header.orientation));
    scale = typeof chooseScale === "number" ? chooseScale : chooseScale(fullWidth, fullHeight);
    const scaled = { width: Math.ceil(header.width / scale), height: Math.ceil(header.height / scale) };
    image = decodeWebp(bytes, header, codecModules().webp, scale > 1 ? scaled : undefined, jpegLayout);
    checkSize(image, scaled.width, scaled.height);
    orientation = header.orientation;
  } else {
    const ihdr = readPngHeader(bytes);
    checkPixelLimit(ihdr.width, ihdr.height, opts.maxPixels);
    if (opts.limits) checkDecodeLimits({ width: ihdr.width, height: ihdr.height, path: pngDecodePath(ihdr), coefficientBytes: 0 }, opts.limits);
    const header = scanPngChunks(bytes, ihdr, true);
    image = decodePng(bytes, header, codecModules().png, jpegLayout);
    checkSize(image, header.width, header.height);
    orientation = header.orientation;
    ({ width: fullWidth, height: fullHeight } = uprightSize(header.width, header.height, orientation));
  }
  let out = orient(image, orientation);
  if (opts.background) out = toRGB(out, opts.background);
  return { image: { ...out, format, orientation, ...(warnings.length ? { warnings } : {}) }, fullWidth, fullHeight, scale };
}

/**
 * Wasm memory the decoders currently hold, in bytes. It never shrinks while an instance lives; each decoder
 * replaces its instance after a large image (16 MiB JPEG, 8 MiB PNG and WebP; at the end of the request's
 * holdDecoderInstances when one is active) and after any failure.
 * Useful for the edge, where an isolate has 128 MB in all.
 */
export function decoderMemoryBytes(): { jpeg: number; png: number; webp: number } {
  return { jpeg: libjpegMemoryBytes(), png: pngMemoryBytes(), webp: webpMemoryBytes() };
}

/** libjpeg refuses sides over 65500 pixels: a size limit (413), not damage. */
function checkJpegSize(h: JpegHeader): void {
  if (h.width > JPEG_MAX_SIDE || h.height > JPEG_MAX_SIDE) {
    throw new ImageError(
      "image_too_large",
      `the JPEG is ${h.width}x${h.height}; the JPEG decoder reads at most ${JPEG_MAX_SIDE} pixels on a side: resize or crop it and send it again`,
      { width: h.width, height: h.height, maxSide: JPEG_MAX_SIDE },
    );
  }
}

function checkSize(image: RawImage, width: number, height: number): void {
  if (image.width !== width || image.height !== height) {
    throw new ImageError("corrupt_image", `the image header says ${width}x${height} but the data decodes to ${image.width}x${image.height}; send the complete, unmodified file`, {
      width,
      height,
    });
  }
}
