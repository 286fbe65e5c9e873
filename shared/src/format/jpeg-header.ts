import { ImageError } from "../errors.ts";
import { SUPPORTED_FORMATS_TEXT } from "./supported.ts";
import { readExifOrientation } from "./exif.ts";

/** What the JPEG marker segments say, read without decoding any pixels. */
export interface JpegHeader {
  width: number;
  height: number;
  /** Bits per sample from the frame header (8 for almost every JPEG; 12 and 16 exist). */
  precision: number;
  /** Number of color components: 1 gray, 3 YCbCr/RGB, 4 CMYK/YCCK. */
  components: number;
  /** Id and horizontal and vertical sampling factors of each component, from the frame header. */
  sampling: { id: number; h: number; v: number }[];
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
  /** SOS markers in the whole file (1 for an interleaved sequential JPEG; ~10 for a typical progressive one). */
  scans: number;
  /**
   * Decode work in whole-image passes: every scan visits each block of its components once, so this is the
   * sum over scans of their components' blocks, over the image's blocks. 1 for a sequential JPEG, about 5
   * for libjpeg's standard progressive script.
   */
  scanPasses: number;
  /**
   * Whether libjpeg must keep every DCT coefficient of the image before it can output a row: progressive
   * files, and sequential files whose first scan does not hold every component. Such a decode needs
   * `coefficientBytes` of memory whatever the output scale.
   */
  buffered: boolean;
  /** 2 bytes per DCT coefficient, for every block of every component (padded to whole MCUs), as libjpeg allocates. */
  coefficientBytes: number;
  /** Whether an EOI marker ends the entropy-coded data (false: it is missing, or the file was cut short). */
  complete: boolean;
  /** What libjpeg tolerates and we noted: stray bytes before a marker, no EOI, bytes after EOI. */
  warnings: string[];
}

/** More scans than this are refused from the header (TurboJPEG's TJFLAG_LIMITSCANS limit). */
export const MAX_JPEG_SCANS = 500;

/**
 * More whole-image passes than this are refused from the header: 20 times libjpeg's standard progressive
 * script (about 5), so no real file comes near it, while 500 scans each over the whole image would be
 * 500 passes. Decode CPU time grows with passes x pixels; bench/jpeg/scans.ts measures it.
 */
export const MAX_JPEG_SCAN_PASSES = 100;

const corrupt = (what: string, detail: Record<string, unknown> = {}): ImageError =>
  new ImageError("corrupt_image", `the JPEG is damaged: ${what}; send the complete, unmodified file`, detail);

const hex = (marker: number): string => `0xFF${marker.toString(16).toUpperCase().padStart(2, "0")}`;

type Frame = Omit<JpegHeader, "adobeTransform" | "orientation" | "scanOffset" | "scans" | "scanPasses" | "buffered" | "coefficientBytes" | "complete" | "warnings">;

/**
 * Walk the JPEG marker segments the way libjpeg reads them (jdmarker.c): frame size, precision,
 * components, coding process, Adobe APP14 transform, EXIF orientation, then every later marker to count the
 * scans and find the EOI. What libjpeg tolerates with a warning is tolerated here with a warning:
 * - bytes that are not a marker where a marker should start (e.g. an APP1 segment whose declared length
 *   is shorter than its EXIF block, or longer so that it runs into the next segment): skipped up to the
 *   next 0xFF marker, as libjpeg's next_marker() does;
 * - no EOI marker (libjpeg: "Premature end of JPEG file"; whether pixels are missing is the decoder's
 *   call), and bytes after the EOI (libjpeg never reads them).
 * Refused (ImageError): no SOI, a header cut off before the first scan, a second frame header, a frame
 * with width 0 or height 0, and more than MAX_JPEG_SCANS scans. Costs a pass of Uint8Array.indexOf over
 * the entropy-coded data: about a millisecond per few MB.
 */
export function readJpegHeader(bytes: Uint8Array): JpegHeader {
  const n = bytes.length;
  if (n < 4 || bytes[0] !== 0xff || bytes[1] !== 0xd8) throw corrupt("it does not start with the SOI marker");
  const warnings: string[] = [];
  let at = 2;
  let frame: Frame | null = null;
  let adobeTransform: number | null = null;
  let orientation = 1;
  let exifSeen = false;
  const endOfHeader = (): ImageError => corrupt(`the header ends at byte ${n} before any image data`, { bytes: n });
  for (;;) {
    // next_marker(): skip anything up to 0xFF, then fill bytes; 0xFF00 is not a marker
    const markerAt = nextMarker(bytes, at, warnings);
    if (markerAt < 0) throw endOfHeader();
    const marker = bytes[markerAt + 1]!;
    at = markerAt + 2;
    if (marker === 0xd8 || marker === 0x01 || (marker >= 0xd0 && marker <= 0xd7)) continue; // no length
    if (marker === 0xd9) throw corrupt("the end-of-image marker comes before any image data", { offset: markerAt });
    if (at + 2 > n) throw corrupt(`the header is cut off at byte ${n}`, { bytes: n });
    const length = (bytes[at]! << 8) | bytes[at + 1]!;
    if (length < 2) throw corrupt(`marker ${hex(marker)} has an invalid length ${length}`, { offset: at });
    const body = at + 2;
    const end = at + length;
    if (end > n) throw corrupt(`the header is cut off at byte ${n} inside a segment that needs ${end} bytes`, { bytes: n });

    if (marker === 0xe1 && !exifSeen && length >= 8 && isExif(bytes, body)) {
      exifSeen = true;
      orientation = readExifOrientation(bytes.subarray(body + 6, end));
    } else if (marker === 0xee && length >= 14 && isAdobe(bytes, body)) {
      adobeTransform = bytes[body + 11]!;
    } else if (marker >= 0xc0 && marker <= 0xcf && marker !== 0xc4 && marker !== 0xc8 && marker !== 0xcc) {
      if (frame) throw corrupt("it has more than one frame header", { offset: markerAt });
      if (length < 8) throw corrupt("the frame header is too short", { offset: markerAt });
      const kind = marker & 0x03; // 0 baseline/extended, 1 extended, 2 progressive, 3 lossless (low bits of SOFn)
      const components = bytes[body + 5]!;
      if (length < 8 + 3 * components) throw corrupt("the frame header is too short for its components", { offset: markerAt });
      const sampling = Array.from({ length: components }, (_, i) => ({ id: bytes[body + 6 + 3 * i]!, h: bytes[body + 7 + 3 * i]! >> 4, v: bytes[body + 7 + 3 * i]! & 15 }));
      frame = {
        precision: bytes[body]!,
        height: (bytes[body + 1]! << 8) | bytes[body + 2]!,
        width: (bytes[body + 3]! << 8) | bytes[body + 4]!,
        components,
        sampling,
        process: marker === 0xc0 ? "baseline" : kind === 2 ? "progressive" : kind === 3 ? "lossless" : "extended",
        arithmetic: marker >= 0xc9,
        hierarchical: (marker >= 0xc5 && marker <= 0xc7) || marker >= 0xcd,
      };
      if (frame.width === 0) throw corrupt("the frame header says the width is 0", { offset: markerAt });
      if (frame.height === 0) {
        // libjpeg: "Empty JPEG image (DNL not supported)". Refused here, before any size arithmetic.
        throw new ImageError(
          "unsupported_variant",
          `this JPEG's frame header says its height is 0 (a height given after the image data, in a DNL marker), which the decoder cannot read (supported: ${SUPPORTED_FORMATS_TEXT}); re-save it as a standard JPEG`,
          { format: "jpeg", width: frame.width, height: 0 },
        );
      }
    } else if (marker === 0xda) {
      if (!frame) throw corrupt("image data starts before the frame header", { offset: markerAt });
      const inFirstScan = length >= 3 ? bytes[body]! : 0;
      const blocks = componentBlocks(frame);
      const rest = walkScans(bytes, markerAt, warnings, blocks);
      const buffered = frame.process === "progressive" || inFirstScan < frame.components;
      return {
        ...frame,
        adobeTransform,
        orientation,
        scanOffset: markerAt,
        scans: rest.scans,
        scanPasses: rest.passes,
        buffered,
        coefficientBytes: coefficientBytes(frame),
        complete: rest.complete,
        warnings,
      };
    }
    at = end;
  }
}

/**
 * The offset of the next marker at or after `at` (its 0xFF), skipping non-marker bytes like libjpeg's
 * next_marker() and noting how many it skipped; -1 at the end of the data.
 */
function nextMarker(bytes: Uint8Array, at: number, warnings: string[]): number {
  const n = bytes.length;
  let skipped = 0;
  for (;;) {
    const ff = bytes.indexOf(0xff, at);
    if (ff < 0 || ff + 1 >= n) return -1;
    skipped += ff - at;
    let m = ff + 1;
    while (m < n && bytes[m] === 0xff) m++;
    if (m >= n) return -1;
    if (bytes[m] === 0) {
      skipped += m + 1 - ff;
      at = m + 1;
      continue;
    }
    if (skipped > 0) warnings.push(`${skipped} extraneous bytes before marker ${hex(bytes[m]!)} at byte ${m - 1} were skipped`);
    return m - 1;
  }
}

/**
 * From the end of the first SOS header to the EOI: skip entropy-coded data (where 0xFF is always followed
 * by 0x00 or a restart marker), count SOS markers, step over the segments between scans. Refuses more than
 * MAX_JPEG_SCANS scans. 0xFF 0xD9 cannot occur in entropy-coded data, so the first EOI found this way is the
 * end of the image.
 */
function walkScans(bytes: Uint8Array, firstSos: number, warnings: string[], blocks: Map<number, number>): { scans: number; passes: number; complete: boolean } {
  const n = bytes.length;
  const total = [...blocks.values()].reduce((a, b) => a + b, 0);
  let visits = 0;
  /** Blocks the scan whose SOS marker is at `sos` visits (its components' blocks). */
  const scanBlocks = (sos: number): number => {
    let sum = 0;
    const count = sos + 4 < n ? bytes[sos + 4]! : 0;
    for (let i = 0; i < count && sos + 5 + 2 * i < n; i++) sum += blocks.get(bytes[sos + 5 + 2 * i]!) ?? 0;
    return sum;
  };
  visits += scanBlocks(firstSos);
  let scans = 1;
  let at = firstSos + 2 + ((bytes[firstSos + 2]! << 8) | bytes[firstSos + 3]!);
  const done = (complete: boolean) => ({ scans, passes: total > 0 ? visits / total : scans, complete });
  for (;;) {
    // entropy-coded data up to the next marker that is not a restart marker
    let ff = bytes.indexOf(0xff, at);
    while (ff >= 0 && ff + 1 < n && (bytes[ff + 1] === 0 || bytes[ff + 1] === 0xff || (bytes[ff + 1]! >= 0xd0 && bytes[ff + 1]! <= 0xd7))) {
      ff = bytes.indexOf(0xff, bytes[ff + 1] === 0xff ? ff + 1 : ff + 2);
    }
    if (ff < 0 || ff + 1 >= n) {
      warnings.push("the file has no end-of-image marker: it may have been cut short");
      return done(false);
    }
    const marker = bytes[ff + 1]!;
    if (marker === 0xd9) {
      const after = n - (ff + 2);
      if (after > 0) warnings.push(`${after} bytes after the end-of-image marker were ignored`);
      return done(true);
    }
    if (marker === 0xd8 || marker === 0x01) {
      at = ff + 2;
      continue;
    }
    if (ff + 4 > n) {
      warnings.push("the file has no end-of-image marker: it may have been cut short");
      return done(false);
    }
    const length = (bytes[ff + 2]! << 8) | bytes[ff + 3]!;
    if (marker === 0xda) {
      scans++;
      if (scans > MAX_JPEG_SCANS) {
        throw corrupt(`it has more than ${MAX_JPEG_SCANS} scans (real encoders write at most a few dozen; a file that repeats scans costs CPU time for nothing)`, {
          maxScans: MAX_JPEG_SCANS,
        });
      }
      visits += scanBlocks(ff);
      if (total > 0 && visits > MAX_JPEG_SCAN_PASSES * total) {
        throw corrupt(
          `its scans visit the image's blocks more than ${MAX_JPEG_SCAN_PASSES} times (a standard progressive JPEG: about 5; repeated scans cost CPU time for nothing)`,
          { maxScanPasses: MAX_JPEG_SCAN_PASSES },
        );
      }
    }
    at = ff + 2 + Math.max(length, 2);
  }
}

/** Blocks of each component (by id), padded to whole MCUs as libjpeg allocates them. */
function componentBlocks(frame: Frame): Map<number, number> {
  const hMax = Math.max(1, ...frame.sampling.map((s) => s.h));
  const vMax = Math.max(1, ...frame.sampling.map((s) => s.v));
  const mcuCols = Math.ceil(frame.width / (8 * hMax));
  const mcuRows = Math.ceil(frame.height / (8 * vMax));
  return new Map(frame.sampling.map((s) => [s.id, mcuCols * Math.max(1, s.h) * mcuRows * Math.max(1, s.v)]));
}

/** libjpeg's whole-image coefficient buffer: every block of every component, 64 coefficients of 2 bytes each. */
function coefficientBytes(frame: Frame): number {
  return [...componentBlocks(frame).values()].reduce((sum, b) => sum + b * 128, 0);
}

function isExif(b: Uint8Array, at: number): boolean {
  return b[at] === 0x45 && b[at + 1] === 0x78 && b[at + 2] === 0x69 && b[at + 3] === 0x66 && b[at + 4] === 0 && b[at + 5] === 0;
}

function isAdobe(b: Uint8Array, at: number): boolean {
  return b[at] === 0x41 && b[at + 1] === 0x64 && b[at + 2] === 0x6f && b[at + 3] === 0x62 && b[at + 4] === 0x65;
}

/**
 * Refuse JPEG flavours our decoders cannot read, before any decoder sees them. libjpeg-turbo (shared/wasm/jpeg)
 * is built 8-bit only and without arithmetic decoding; jpeg-js (used for 4-component files) reads baseline
 * and progressive Huffman only, and is not libjpeg: a 4-component file without its EOI is refused here.
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
  if (h.components !== 1 && h.components !== 3 && h.components !== 4) {
    throw variant(`${h.components} color components`, { components: h.components });
  }
  if (h.components === 4 && h.adobeTransform === null) {
    throw variant("4 color components without an Adobe APP14 marker (the CMYK convention is unknown)", { components: 4 });
  }
  if (!h.complete && h.components === 4) {
    throw new ImageError(
      "corrupt_image",
      "the CMYK JPEG is truncated: its image data stops without an end-of-image marker; send the complete, unmodified file",
      { format: "jpeg" },
    );
  }
}
