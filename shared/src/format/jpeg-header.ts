import { ImageError } from "../errors.ts";
import { SUPPORTED_FORMATS_TEXT } from "./supported.ts";
import { readExifOrientation } from "./exif.ts";

/** What the JPEG marker segments before the first scan say, read without decoding any pixels. */
export interface JpegHeader {
  width: number;
  height: number;
  /** Bits per sample from the frame header (8 for almost every JPEG; 12 and 16 exist). */
  precision: number;
  /** Number of color components: 1 gray, 3 YCbCr/RGB, 4 CMYK/YCCK. */
  components: number;
  /** "baseline" | "extended" | "progressive" | "lossless", plus whether the entropy coding is arithmetic. */
  process: "baseline" | "extended" | "progressive" | "lossless";
  arithmetic: boolean;
  hierarchical: boolean;
  /** Adobe APP14 transform flag: 0 = none (RGB/CMYK), 1 = YCbCr, 2 = YCCK; null when there is no APP14 segment. */
  adobeTransform: number | null;
  /** EXIF orientation 1-8 (1 when absent or unreadable). */
  orientation: number;
  /** Byte offset of the first SOS marker. */
  scanOffset: number;
  /** Whether an EOI marker follows the entropy-coded data (false: the file was cut short). */
  complete: boolean;
}

const corrupt = (what: string, detail: Record<string, unknown> = {}): ImageError =>
  new ImageError("corrupt_image", `the JPEG is damaged: ${what}; send the complete, unmodified file`, detail);

/**
 * Walk the JPEG marker segments up to the first scan (SOS): frame size, precision, components, coding
 * process, Adobe APP14 transform and EXIF orientation. Touches only the header bytes and then looks for the
 * EOI marker from the end, so it costs microseconds even for a 280-megapixel file.
 */
export function readJpegHeader(bytes: Uint8Array): JpegHeader {
  const n = bytes.length;
  if (n < 4 || bytes[0] !== 0xff || bytes[1] !== 0xd8) throw corrupt("it does not start with the SOI marker");
  let at = 2;
  let frame: Omit<JpegHeader, "adobeTransform" | "orientation" | "scanOffset" | "complete"> | null = null;
  let adobeTransform: number | null = null;
  let orientation = 1;
  let exifSeen = false;
  for (;;) {
    if (at >= n) throw corrupt(`the header ends at byte ${n} before any image data`, { bytes: n });
    if (bytes[at] !== 0xff) throw corrupt(`expected a marker at byte ${at}, found 0x${bytes[at]!.toString(16)}`, { offset: at });
    while (at < n && bytes[at] === 0xff) at++; // fill bytes
    if (at >= n) throw corrupt(`the header ends at byte ${n} before any image data`, { bytes: n });
    const marker = bytes[at]!;
    at++;
    if (marker === 0xd8 || marker === 0x01 || (marker >= 0xd0 && marker <= 0xd7)) continue; // no length
    if (marker === 0xd9) throw corrupt("the end-of-image marker comes before any image data", { offset: at - 2 });
    if (at + 2 > n) throw corrupt(`the header is cut off at byte ${n}`, { bytes: n });
    const length = (bytes[at]! << 8) | bytes[at + 1]!;
    if (length < 2) throw corrupt(`marker 0xFF${marker.toString(16).toUpperCase()} has an invalid length ${length}`, { offset: at });
    const body = at + 2;
    const end = at + length;
    if (end > n) throw corrupt(`the header is cut off at byte ${n} inside a segment that needs ${end} bytes`, { bytes: n });

    if (marker === 0xe1 && !exifSeen && length >= 8 && isExif(bytes, body)) {
      exifSeen = true;
      orientation = readExifOrientation(bytes.subarray(body + 6, end));
    } else if (marker === 0xee && length >= 14 && isAdobe(bytes, body)) {
      adobeTransform = bytes[body + 11]!;
    } else if (marker >= 0xc0 && marker <= 0xcf && marker !== 0xc4 && marker !== 0xc8 && marker !== 0xcc) {
      if (frame) throw corrupt("it has more than one frame header", { offset: at - 2 });
      if (length < 8) throw corrupt("the frame header is too short", { offset: at - 2 });
      const kind = marker & 0x03; // 0 baseline/extended, 1 extended, 2 progressive, 3 lossless (low bits of SOFn)
      frame = {
        precision: bytes[body]!,
        height: (bytes[body + 1]! << 8) | bytes[body + 2]!,
        width: (bytes[body + 3]! << 8) | bytes[body + 4]!,
        components: bytes[body + 5]!,
        process: marker === 0xc0 ? "baseline" : kind === 2 ? "progressive" : kind === 3 ? "lossless" : "extended",
        arithmetic: marker >= 0xc9,
        hierarchical: (marker >= 0xc5 && marker <= 0xc7) || marker >= 0xcd,
      };
      if (frame.width === 0) throw corrupt("the frame header says the width is 0", { offset: at - 2 });
    } else if (marker === 0xda) {
      if (!frame) throw corrupt("image data starts before the frame header", { offset: at - 2 });
      return { ...frame, adobeTransform, orientation, scanOffset: at - 2, complete: hasEoiAfter(bytes, end) };
    }
    at = end;
  }
}

function isExif(b: Uint8Array, at: number): boolean {
  return b[at] === 0x45 && b[at + 1] === 0x78 && b[at + 2] === 0x69 && b[at + 3] === 0x66 && b[at + 4] === 0 && b[at + 5] === 0;
}

function isAdobe(b: Uint8Array, at: number): boolean {
  return b[at] === 0x41 && b[at + 1] === 0x64 && b[at + 2] === 0x6f && b[at + 3] === 0x62 && b[at + 4] === 0x65;
}

/**
 * Entropy-coded data never contains 0xFF 0xD9 (a 0xFF data byte is stuffed as 0xFF 0x00), so an EOI marker
 * anywhere after the first scan header means the stream was not cut short. Searching from the end finds it
 * in a few bytes for normal files.
 */
function hasEoiAfter(bytes: Uint8Array, from: number): boolean {
  for (let i = bytes.length - 2; i >= from; i--) {
    if (bytes[i] === 0xff && bytes[i + 1] === 0xd9) return true;
  }
  return false;
}

/**
 * Refuse JPEG flavours our decoders cannot read, before any decoder sees them. mozjpeg (in @jsquash/jpeg) is
 * built 8-bit only and without arithmetic decoding; jpeg-js (used for 4-component files) reads baseline and
 * progressive Huffman only.
 */
export function checkJpegSupported(h: JpegHeader): void {
  const variant = (what: string, detail: Record<string, unknown>): ImageError =>
    new ImageError(
      "unsupported_variant",
      `this JPEG uses ${what}, which the decoder cannot read (supported: ${SUPPORTED_FORMATS_TEXT}); re-save it as a standard 8-bit JPEG or as PNG and send it again`,
      { format: "jpeg", ...detail },
    );
  if (h.precision !== 8) throw variant(`${h.precision}-bit samples`, { precision: h.precision });
  if (h.arithmetic) throw variant("arithmetic coding", { arithmetic: true });
  if (h.process === "lossless") throw variant("lossless coding", { process: h.process });
  if (h.hierarchical) throw variant("hierarchical (differential) coding", { hierarchical: true });
  if (h.height === 0) throw variant("a height defined after the image data (DNL marker)", { height: 0 });
  if (h.components !== 1 && h.components !== 3 && h.components !== 4) {
    throw variant(`${h.components} color components`, { components: h.components });
  }
  if (h.components === 4 && h.adobeTransform === null) {
    throw variant("4 color components without an Adobe APP14 marker (the CMYK convention is unknown)", { components: 4 });
  }
  if (!h.complete) {
    throw new ImageError(
      "corrupt_image",
      "the JPEG is truncated: its image data stops without an end-of-image marker; send the complete, unmodified file",
      { format: "jpeg" },
    );
  }
}
