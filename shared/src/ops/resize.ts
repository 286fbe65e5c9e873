import { assertRawImage, type RawImage } from "../image.ts";
import { fixedTaps, sourceSpan } from "./resample.ts";
import { horizontalPass, verticalPass } from "./resample-bytes.ts";
import { horizontalRgbx, verticalRgbx, type Rgbx } from "./resample-rgbx.ts";
import { packRgbx, unpackRgb } from "./rgbx.ts";

export { triangleCoefficients } from "./resample.ts";

/**
 * Antialiased resize with Pillow's BILINEAR algorithm (Image.resize(..., Image.BILINEAR), which is what
 * fastai and torchvision use on PIL images): a separable triangle filter whose support widens with the
 * downscale factor, so every source pixel contributes when shrinking by large factors (no aliasing), and
 * plain bilinear interpolation when enlarging.
 *
 * Same arithmetic as Pillow's Resample.c: coefficients in double precision, normalised per output pixel,
 * converted to 22-bit fixed point; each pass accumulates integers with a rounding offset and clamps to 0..255.
 * Horizontal pass first, then vertical; an axis whose size does not change is skipped, so scale 1 is the
 * identity. Works on any channel count, with all channels filtered the same way.
 */
export function resize(image: RawImage, width: number, height: number): RawImage {
  assertRawImage(image, "resize");
  if (!Number.isInteger(width) || !Number.isInteger(height) || width < 1 || height < 1) {
    throw new Error(`resize: target size must be positive integers, got ${width}x${height}`);
  }
  return resizeWindow(image, width, height, { x: 0, y: 0, width, height });
}

/** A rectangle of an image, in pixels. */
export interface PixelWindow {
  x: number;
  y: number;
  width: number;
  height: number;
}

/**
 * The `window` region of resize(image, width, height), computing only that region (and only the source rows
 * it reads): resize followed by a crop in one go, bit-identical to doing them in turn.
 */
export function resizeWindow(image: RawImage, width: number, height: number, window: PixelWindow): RawImage {
  assertRawImage(image, "resizeWindow");
  checkWindow(width, height, window);
  if (image.channels === 3) return unpackRgb(resizeRgbxWindow(packRgbx(image), width, height, window));
  return resizeBytesWindow(image, width, height, window);
}

/** resizeWindow for RGB packed as RGBX (what preprocessImage uses). */
export function resizeRgbxWindow(image: Rgbx, width: number, height: number, window: PixelWindow): Rgbx {
  checkWindow(width, height, window);
  const { x, y } = window;
  const ww = window.width;
  const wh = window.height;
  const hTaps = width !== image.width ? fixedTaps(image.width, width) : null;
  const vTaps = height !== image.height ? fixedTaps(image.height, height) : null;
  const out = new Int32Array(ww * wh);
  // the source rows the vertical pass reads (the window's own rows when the height does not change)
  const rows = vTaps ? sourceSpan(vTaps, y, wh) : { first: y, end: y + wh };
  const n = rows.end - rows.first;
  const offset = rows.first * image.width;
  if (!vTaps) {
    if (hTaps) horizontalRgbx(image.data, offset, image.width, n, hTaps, x, ww, out);
    else copyRows(image.data, offset + x, image.width, n, ww, out);
    return { data: out, width: ww, height: wh };
  }
  let mid: Int32Array;
  if (hTaps) {
    mid = scratchWords(n * ww);
    horizontalRgbx(image.data, offset, image.width, n, hTaps, x, ww, mid);
  } else if (ww === image.width) {
    mid = image.data.subarray(offset);
  } else {
    mid = scratchWords(n * ww);
    copyRows(image.data, offset + x, image.width, n, ww, mid);
  }
  verticalRgbx(mid, ww, rows.first, vTaps, y, wh, out);
  return { data: out, width: ww, height: wh };
}

function checkWindow(width: number, height: number, window: PixelWindow): void {
  const { x, y } = window;
  const ww = window.width;
  const wh = window.height;
  if (![x, y, ww, wh].every(Number.isInteger) || x < 0 || y < 0 || ww < 1 || wh < 1 || x + ww > width || y + wh > height) {
    throw new Error(`resizeWindow: window ${ww}x${wh} at (${x}, ${y}) does not lie inside the ${width}x${height} result`);
  }
}

let scratch = new Int32Array(0);

/** A reused buffer for the intermediate (horizontally resized) rows; never returned to callers. */
function scratchWords(n: number): Int32Array {
  if (scratch.length < n) scratch = new Int32Array(Math.max(n, scratch.length * 2));
  return scratch;
}

function copyRows(src: Int32Array, offset: number, rowPixels: number, rows: number, width: number, dst: Int32Array): void {
  for (let r = 0; r < rows; r++) dst.set(src.subarray(offset + r * rowPixels, offset + r * rowPixels + width), r * width);
}

/** resizeWindow for 1, 2 or 4 channels, one channel at a time. */
function resizeBytesWindow(image: RawImage, width: number, height: number, window: PixelWindow): RawImage {
  const { x, y } = window;
  const ww = window.width;
  const wh = window.height;
  const { data, channels: c } = image;
  const hTaps = width !== image.width ? fixedTaps(image.width, width) : null;
  const vTaps = height !== image.height ? fixedTaps(image.height, height) : null;
  const out = new Uint8Array(ww * wh * c);
  const outRow = ww * c;
  const srcRow = image.width * c;
  const rows = vTaps ? sourceSpan(vTaps, y, wh) : { first: y, end: y + wh };
  const n = rows.end - rows.first;
  let mid: Uint8Array;
  let midRow: number;
  let midOffset: number;
  if (hTaps) {
    mid = vTaps ? new Uint8Array(n * outRow) : out;
    horizontalPass(data, rows.first * srcRow, srcRow, c, c, n, hTaps, x, ww, mid);
    midRow = outRow;
    midOffset = 0;
  } else {
    mid = data;
    midRow = srcRow;
    midOffset = (rows.first * image.width + x) * c;
  }
  if (vTaps) verticalPass(mid, midOffset, midRow, rows.first, outRow, vTaps, y, wh, out);
  else if (!hTaps) for (let r = 0; r < n; r++) out.set(data.subarray(midOffset + r * srcRow, midOffset + r * srcRow + outRow), r * outRow);
  return { data: out, width: ww, height: wh, channels: c };
}
