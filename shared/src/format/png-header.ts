import { ImageError } from "../errors.ts";
import { crc32 } from "./crc32.ts";
import { readExifOrientation } from "./exif.ts";

/** What the PNG chunks say, read without inflating any pixel data. */
export interface PngHeader {
  width: number;
  height: number;
  /** Bits per sample: 1, 2, 4, 8 or 16. */
  bitDepth: number;
  /** 0 gray, 2 RGB, 3 palette, 4 gray + alpha, 6 RGBA. */
  colorType: number;
  interlaced: boolean;
  /** Whether a tRNS chunk gives gray/RGB/palette pixels transparency. */
  hasTransparency: boolean;
  /** EXIF orientation from an eXIf chunk (1 when absent). */
  orientation: number;
}

const VALID_DEPTHS: Record<number, readonly number[]> = { 0: [1, 2, 4, 8, 16], 2: [8, 16], 3: [1, 2, 4, 8], 4: [8, 16], 6: [8, 16] };

const corrupt = (what: string, detail: Record<string, unknown> = {}): ImageError =>
  new ImageError("corrupt_image", `the PNG is damaged: ${what}; send the complete, unmodified file`, { format: "png", ...detail });

const u32 = (b: Uint8Array, at: number): number => ((b[at]! << 24) | (b[at + 1]! << 16) | (b[at + 2]! << 8) | b[at + 3]!) >>> 0;

/** Read IHDR only: size, depth, color type. Cheap enough to run before the pixel limit check. */
export function readPngHeader(bytes: Uint8Array): PngHeader {
  if (bytes.length < 33) throw corrupt(`it is only ${bytes.length} bytes, too short for a PNG header`, { bytes: bytes.length });
  if (u32(bytes, 8) !== 13 || bytes[12] !== 0x49 || bytes[13] !== 0x48 || bytes[14] !== 0x44 || bytes[15] !== 0x52) {
    throw corrupt("the first chunk is not a 13-byte IHDR");
  }
  if (crc32(bytes, 12, 29) !== u32(bytes, 29)) throw corrupt("the IHDR chunk fails its CRC check");
  const width = u32(bytes, 16);
  const height = u32(bytes, 20);
  const bitDepth = bytes[24]!;
  const colorType = bytes[25]!;
  const interlace = bytes[28]!;
  if (width === 0 || height === 0 || width > 0x7fffffff || height > 0x7fffffff) throw corrupt(`the header gives an invalid size ${width}x${height}`);
  if (!VALID_DEPTHS[colorType]?.includes(bitDepth)) throw corrupt(`bit depth ${bitDepth} with color type ${colorType} is not a valid combination`);
  if (bytes[26] !== 0 || bytes[27] !== 0 || interlace > 1) throw corrupt("unknown compression, filter or interlace method");
  return { width, height, bitDepth, colorType, interlaced: interlace === 1, hasTransparency: false, orientation: 1 };
}

/**
 * Walk the chunks and pick up tRNS and eXIf (orientation).
 * `verify: true` (before decoding): every chunk must fit in the file and pass its CRC, and the file must end
 * with IEND, which turns truncated and bit-flipped files into a typed error before the decoder sees them.
 * `verify: false` (header only): stop at the first IDAT, since eXIf must come before it; no CRCs.
 */
export function scanPngChunks(bytes: Uint8Array, header: PngHeader, verify: boolean): PngHeader {
  let at = 8;
  let hasTransparency = false;
  let orientation = 1;
  let sawIdat = false;
  for (;;) {
    if (at + 12 > bytes.length) throw corrupt(`the file is truncated at byte ${bytes.length} (no IEND chunk)`, { bytes: bytes.length });
    const length = u32(bytes, at);
    const typeStart = at + 4;
    const end = typeStart + 4 + length;
    if (length > 0x7fffffff || end + 4 > bytes.length) {
      throw corrupt(`the file is truncated at byte ${bytes.length} inside a chunk that needs ${end + 4} bytes`, { bytes: bytes.length });
    }
    const type = String.fromCharCode(bytes[typeStart]!, bytes[typeStart + 1]!, bytes[typeStart + 2]!, bytes[typeStart + 3]!);
    if (!verify && type === "IDAT") return { ...header, hasTransparency, orientation };
    if (verify && crc32(bytes, typeStart, end) !== u32(bytes, end)) throw corrupt(`chunk ${type} at byte ${at} fails its CRC check`, { chunk: type, offset: at });
    if (type === "tRNS") hasTransparency = true;
    else if (type === "eXIf") orientation = readExifOrientation(bytes.subarray(typeStart + 4, end));
    else if (type === "IDAT") sawIdat = true;
    else if (type === "IEND") {
      if (!sawIdat) throw corrupt("it has no image data (IDAT chunk)");
      return { ...header, hasTransparency, orientation };
    }
    at = end + 4;
  }
}
