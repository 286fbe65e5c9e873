import { assertRawImage, type RawImage } from "../image.ts";

/** The size as displayed after EXIF `orientation`: orientations 5-8 swap the stored width and height. */
export function uprightSize(width: number, height: number, orientation: number): { width: number; height: number } {
  return orientation >= 5 ? { width: height, height: width } : { width, height };
}

/**
 * Apply an EXIF orientation (1-8) so the pixels are upright as a viewer shows them. Orientations 5-8 swap
 * width and height. Out-of-range values are treated as 1.
 *   1 as stored        2 mirror left-right   3 rotate 180        4 mirror top-bottom
 *   5 transpose        6 rotate 90 clockwise 7 transverse        8 rotate 90 counter-clockwise
 */
export function orient(image: RawImage, orientation: number): RawImage {
  assertRawImage(image, "orient");
  if (!(orientation >= 2 && orientation <= 8)) return image;
  const { data, width: w, height: h, channels: c } = image;
  const swap = orientation >= 5;
  const ow = swap ? h : w;
  const oh = swap ? w : h;
  // The stored pixel (sx, sy) that lands on output (x, y) is affine in x and y, so its index is
  // first + x * dx + y * dy (in pixels), walked incrementally instead of recomputed per pixel.
  let sx0: number, sy0: number, sxX: number, syX: number, sxY: number, syY: number;
  switch (orientation) {
    case 2: [sx0, sy0, sxX, syX, sxY, syY] = [w - 1, 0, -1, 0, 0, 1]; break;
    case 3: [sx0, sy0, sxX, syX, sxY, syY] = [w - 1, h - 1, -1, 0, 0, -1]; break;
    case 4: [sx0, sy0, sxX, syX, sxY, syY] = [0, h - 1, 1, 0, 0, -1]; break;
    case 5: [sx0, sy0, sxX, syX, sxY, syY] = [0, 0, 0, 1, 1, 0]; break;
    case 6: [sx0, sy0, sxX, syX, sxY, syY] = [0, h - 1, 0, -1, 1, 0]; break;
    case 7: [sx0, sy0, sxX, syX, sxY, syY] = [w - 1, h - 1, 0, -1, -1, 0]; break;
    default: [sx0, sy0, sxX, syX, sxY, syY] = [w - 1, 0, 0, 1, -1, 0]; break; // 8
  }
  const first = sy0 * w + sx0;
  const dx = syX * w + sxX;
  const dy = syY * w + sxY;
  const out = new Uint8Array(data.length);
  if (c === 4 && data.byteOffset % 4 === 0) {
    // one int32 per RGBA pixel: the same bytes moved, a quarter of the accesses
    remap(new Int32Array(data.buffer, data.byteOffset, w * h), new Int32Array(out.buffer), ow, oh, first, dx, dy);
  } else if (c === 1) {
    remap(data, out, ow, oh, first, dx, dy);
  } else if (c === 3) {
    remap3(data, out, ow, oh, first, dx, dy);
  } else {
    remapChannels(data, out, c, ow, oh, first, dx, dy);
  }
  return { data: out, width: ow, height: oh, channels: c };
}

function remap(src: Int32Array | Uint8Array, dst: Int32Array | Uint8Array, ow: number, oh: number, first: number, dx: number, dy: number): void {
  for (let y = 0, o = 0; y < oh; y++) {
    for (let x = 0, s = first + y * dy; x < ow; x++, s += dx) dst[o++] = src[s]!;
  }
}

function remap3(src: Uint8Array, dst: Uint8Array, ow: number, oh: number, first: number, dx: number, dy: number): void {
  const step = dx * 3;
  for (let y = 0, o = 0; y < oh; y++) {
    for (let x = 0, s = (first + y * dy) * 3; x < ow; x++, s += step, o += 3) {
      dst[o] = src[s]!;
      dst[o + 1] = src[s + 1]!;
      dst[o + 2] = src[s + 2]!;
    }
  }
}

function remapChannels(src: Uint8Array, dst: Uint8Array, c: number, ow: number, oh: number, first: number, dx: number, dy: number): void {
  for (let y = 0, o = 0; y < oh; y++) {
    for (let x = 0, s = (first + y * dy) * c; x < ow; x++, s += dx * c) for (let k = 0; k < c; k++) dst[o++] = src[s + k]!;
  }
}
