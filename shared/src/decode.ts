import { ImageError } from "./errors.ts";
import { checkPixelLimit, requireSupportedFormat } from "./format/header.ts";
import { checkJpegSupported, readJpegHeader } from "./format/jpeg-header.ts";
import { readPngHeader, scanPngChunks } from "./format/png-header.ts";
import { readWebpHeader } from "./format/webp-header.ts";
import type { PreprocessConfig } from "./config.ts";
import type { DecodedImage, RawImage } from "./image.ts";
import { codecModules } from "./codecs/registry.ts";
import { decodeCmykJpeg } from "./codecs/cmyk-jpeg.ts";
import { decodeWithMozjpeg, mozjpegMemoryBytes } from "./codecs/mozjpeg.ts";
import { decodePng, pngMemoryBytes } from "./codecs/png.ts";
import { decodeWebp, webpMemoryBytes } from "./codecs/webp.ts";
import { shrinkDenominator } from "./ops/shrink-on-load.ts";
import { orient } from "./ops/orient.ts";
import { toRGB } from "./ops/to-rgb.ts";

export interface DecodeOptions {
  /** Refuse images with more pixels than this, judged from the header before anything is decoded. */
  maxPixels: number;
  /**
   * RGB (0..255) to composite transparent pixels onto. When given, the result is always 3-channel RGB;
   * when omitted, the channels the file has are kept (1 gray, 2 gray + alpha, 3 RGB, 4 RGBA).
   */
  background?: [number, number, number];
  /**
   * Shrink-on-load: when given, a decoder that can reduce while decoding (WebP today) decodes at 1/2, 1/4
   * or 1/8 of the size, as chosen by shrinkDenominator() for this resize, and the result's `fullSize` says
   * what the file stores. preprocess() passes its recipe's resize; omit it for full-size pixels.
   */
  shrinkFor?: PreprocessConfig["resize"];
}

/**
 * Bytes to upright pixels. Order: sniff the format from magic bytes -> read the header -> refuse over
 * `maxPixels` -> refuse variants the decoders cannot read and truncated/corrupt structure -> decode
 * (mozjpeg for JPEG, jpeg-js for CMYK/YCCK JPEG, the png crate for PNG, libwebp for WebP) -> apply EXIF
 * orientation.
 * Every failure caused by the input is an ImageError with a stable `code`.
 */
export async function decodeImage(bytes: Uint8Array, opts: DecodeOptions): Promise<DecodedImage> {
  return decodeUpright(bytes, opts, "rgb");
}

/**
 * decodeImage, except that with `jpegLayout` "rgba" a JPEG decoded by mozjpeg, a PNG without alpha and any
 * WebP come as RGBA (alpha 255 everywhere when the file has none) instead of being copied to RGB;
 * preprocess() reads opaque RGBA in place.
 */
export async function decodeUpright(bytes: Uint8Array, opts: DecodeOptions, jpegLayout: "rgb" | "rgba"): Promise<DecodedImage> {
  if (!Number.isFinite(opts?.maxPixels) || opts.maxPixels < 1) throw new Error(`decodeImage: maxPixels must be a positive number, got ${opts?.maxPixels}`);
  const format = requireSupportedFormat(bytes);
  let image: RawImage;
  let orientation: number;
  let fullSize: { width: number; height: number } | undefined;
  if (format === "jpeg") {
    const header = readJpegHeader(bytes);
    checkPixelLimit(header.width, header.height, opts.maxPixels);
    checkJpegSupported(header);
    const modules = codecModules();
    image = header.components === 4 ? decodeCmykJpeg(bytes, opts.maxPixels) : await decodeWithMozjpeg(bytes, modules.jpeg, jpegLayout);
    checkSize(image, header.width, header.height);
    orientation = header.orientation;
  } else if (format === "webp") {
    const header = readWebpHeader(bytes);
    checkPixelLimit(header.width, header.height, opts.maxPixels);
    const d = opts.shrinkFor ? shrinkDenominator(header.width, header.height, opts.shrinkFor) : 1;
    const scaled = { width: Math.ceil(header.width / d), height: Math.ceil(header.height / d) };
    image = decodeWebp(bytes, header, codecModules().webp, d > 1 ? scaled : undefined, jpegLayout);
    checkSize(image, scaled.width, scaled.height);
    if (d > 1) fullSize = header.orientation >= 5 ? { width: header.height, height: header.width } : { width: header.width, height: header.height };
    orientation = header.orientation;
  } else {
    const ihdr = readPngHeader(bytes);
    checkPixelLimit(ihdr.width, ihdr.height, opts.maxPixels);
    const header = scanPngChunks(bytes, ihdr, true);
    image = decodePng(bytes, header, codecModules().png, jpegLayout);
    checkSize(image, header.width, header.height);
    orientation = header.orientation;
  }
  let out = orient(image, orientation);
  if (opts.background) out = toRGB(out, opts.background);
  return fullSize ? { ...out, format, orientation, fullSize } : { ...out, format, orientation };
}

/**
 * Wasm memory the decoders currently hold, in bytes. It never shrinks while an instance lives; each decoder
 * replaces its instance once this passes 64 MiB (JPEG) or 8 MiB (PNG, WebP) (and after any failure), so it stays below that plus one
 * image. Useful for the edge, where an isolate has 128 MB in all.
 */
export function decoderMemoryBytes(): { jpeg: number; png: number; webp: number } {
  return { jpeg: mozjpegMemoryBytes(), png: pngMemoryBytes(), webp: webpMemoryBytes() };
}

function checkSize(image: RawImage, width: number, height: number): void {
  if (image.width !== width || image.height !== height) {
    throw new ImageError("corrupt_image", `the image header says ${width}x${height} but the data decodes to ${image.width}x${image.height}; send the complete, unmodified file`, {
      width,
      height,
    });
  }
}
