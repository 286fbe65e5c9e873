import { ImageError } from "../errors.ts";
import { readExifOrientation } from "./exif.ts";

/** What a WebP's RIFF chunks say, read without decoding any pixel. */
export interface WebpHeader {
  /** Canvas size as stored (before EXIF orientation). */
  width: number;
  height: number;
  /** "lossy" (VP8, with an optional ALPH chunk) or "lossless" (VP8L). */
  kind: "lossy" | "lossless";
  /** Whether the image has an alpha channel (VP8X flag, an ALPH chunk, or VP8L's alpha hint). */
  hasAlpha: boolean;
  /** EXIF orientation from a VP8X file's EXIF chunk (1 when absent). */
  orientation: number;
}

const corrupt = (what: string, detail: Record<string, unknown> = {}): ImageError =>
  new ImageError("corrupt_image", `the WebP is damaged: ${what}; send the complete, unmodified file`, { format: "webp", ...detail });

const u32le = (b: Uint8Array, at: number): number => (b[at]! | (b[at + 1]! << 8) | (b[at + 2]! << 16) | (b[at + 3]! << 24)) >>> 0;
const u24le = (b: Uint8Array, at: number): number => b[at]! | (b[at + 1]! << 8) | (b[at + 2]! << 16);
const fourcc = (b: Uint8Array, at: number): string => String.fromCharCode(b[at]!, b[at + 1]!, b[at + 2]!, b[at + 3]!);

interface Chunk {
  type: string;
  /** Offset of the chunk's payload. */
  start: number;
  /** Payload length (without the pad byte). */
  length: number;
}

/**
 * Parse the RIFF container (RFC 9649): every chunk must fit inside the file and inside the RIFF size.
 * Trailing bytes after the RIFF payload are ignored, as libwebp does.
 */
function chunksOf(bytes: Uint8Array): Chunk[] {
  if (bytes.length < 20) throw corrupt(`it is only ${bytes.length} bytes, too short for a WebP header`, { bytes: bytes.length });
  const riffEnd = u32le(bytes, 4) + 8;
  if (riffEnd > bytes.length) throw corrupt(`the file is truncated: its RIFF header says ${riffEnd} bytes but ${bytes.length} arrived`, { bytes: bytes.length, expected: riffEnd });
  const chunks: Chunk[] = [];
  for (let at = 12; at + 8 <= riffEnd; ) {
    const type = fourcc(bytes, at);
    const length = u32le(bytes, at + 4);
    const start = at + 8;
    if (start + length > riffEnd) throw corrupt(`chunk ${JSON.stringify(type)} at byte ${at} runs past the end of the file`, { chunk: type, offset: at });
    chunks.push({ type, start, length });
    at = start + length + (length & 1);
  }
  if (chunks.length === 0) throw corrupt("it holds no chunks");
  return chunks;
}

/** Size from a VP8 (lossy) bitstream's key frame header. */
function vp8Size(bytes: Uint8Array, c: Chunk): { width: number; height: number } {
  if (c.length < 10) throw corrupt("the VP8 chunk is too short for a frame header");
  const s = c.start;
  const keyFrame = (bytes[s]! & 1) === 0;
  if (!keyFrame || bytes[s + 3] !== 0x9d || bytes[s + 4] !== 0x01 || bytes[s + 5] !== 0x2a) throw corrupt("the VP8 chunk does not start with a key frame");
  return { width: (bytes[s + 6]! | (bytes[s + 7]! << 8)) & 0x3fff, height: (bytes[s + 8]! | (bytes[s + 9]! << 8)) & 0x3fff };
}

/** Size and alpha hint from a VP8L (lossless) bitstream's header. */
function vp8lSize(bytes: Uint8Array, c: Chunk): { width: number; height: number; alpha: boolean } {
  if (c.length < 5 || bytes[c.start] !== 0x2f) throw corrupt("the VP8L chunk does not start with its signature byte 0x2f");
  const bits = u32le(bytes, c.start + 1);
  if (bits >>> 29 !== 0) throw corrupt(`the VP8L chunk has version ${bits >>> 29}; only version 0 exists`);
  return { width: (bits & 0x3fff) + 1, height: ((bits >>> 14) & 0x3fff) + 1, alpha: ((bits >>> 28) & 1) === 1 };
}

/**
 * Read a WebP's header: simple lossy (VP8), simple lossless (VP8L), or extended (VP8X: canvas size, alpha,
 * EXIF). Animated WebP is refused here with `unsupported_variant` (a 415 at the edge): picking a frame
 * would classify something other than what the sender sees. Throws ImageError for malformed headers.
 */
export function readWebpHeader(bytes: Uint8Array): WebpHeader {
  const chunks = chunksOf(bytes);
  const first = chunks[0]!;
  if (first.type === "VP8 ") {
    const { width, height } = vp8Size(bytes, first);
    return checked({ width, height, kind: "lossy", hasAlpha: false, orientation: 1 });
  }
  if (first.type === "VP8L") {
    const { width, height, alpha } = vp8lSize(bytes, first);
    return checked({ width, height, kind: "lossless", hasAlpha: alpha, orientation: 1 });
  }
  if (first.type !== "VP8X") throw corrupt(`the first chunk is ${JSON.stringify(first.type)}, not VP8, VP8L or VP8X`);
  if (first.length < 10) throw corrupt("the VP8X chunk is too short");
  const flags = bytes[first.start]!;
  const width = u24le(bytes, first.start + 4) + 1;
  const height = u24le(bytes, first.start + 7) + 1;
  if (flags & 0x02 || chunks.some((c) => c.type === "ANIM" || c.type === "ANMF")) {
    throw new ImageError(
      "unsupported_variant",
      `the WebP is animated (${width}x${height}); only still WebP images are supported: send one frame as a still image (WebP, JPEG or PNG)`,
      { format: "webp", animated: true, width, height },
    );
  }
  const image = chunks.find((c) => c.type === "VP8 " || c.type === "VP8L");
  if (!image) throw corrupt("it has no image data (VP8 or VP8L chunk)");
  const size = image.type === "VP8L" ? vp8lSize(bytes, image) : vp8Size(bytes, image);
  if (size.width !== width || size.height !== height) {
    throw corrupt(`the canvas is ${width}x${height} but the image data is ${size.width}x${size.height}`, { width, height });
  }
  const exif = flags & 0x08 ? chunks.find((c) => c.type === "EXIF") : undefined;
  // The chunk holds the TIFF block; some writers keep JPEG's "Exif\0\0" prefix in front of it.
  const tiff = exif ? bytes.subarray(exif.start, exif.start + exif.length) : undefined;
  const orientation = tiff ? readExifOrientation(fourcc(tiff, 0) === "Exif" && tiff[4] === 0 && tiff[5] === 0 ? tiff.subarray(6) : tiff) : 1;
  const hasAlpha = (flags & 0x10) !== 0 || chunks.some((c) => c.type === "ALPH");
  return checked({ width, height, kind: image.type === "VP8L" ? "lossless" : "lossy", hasAlpha, orientation });
}

function checked(h: WebpHeader): WebpHeader {
  if (h.width === 0 || h.height === 0) throw corrupt(`the header gives an invalid size ${h.width}x${h.height}`, { width: h.width, height: h.height });
  return h;
}
