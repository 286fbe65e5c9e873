import { assertRawImage, type RawImage } from "../image.ts";

export interface Padding {
  top: number;
  right: number;
  bottom: number;
  left: number;
}

/** Add borders filled with `fill` (one value per channel, e.g. the RGB background). */
export function pad(image: RawImage, padding: Padding, fill: readonly number[]): RawImage {
  assertRawImage(image, "pad");
  const { top, right, bottom, left } = padding;
  for (const [k, v] of Object.entries(padding)) {
    if (!Number.isInteger(v) || v < 0) throw new Error(`pad: ${k} must be a non-negative integer, got ${v}`);
  }
  const { data, width, height, channels: c } = image;
  if (fill.length !== c) throw new Error(`pad: fill needs ${c} values (one per channel), got ${fill.length}`);
  const ow = width + left + right;
  const oh = height + top + bottom;
  const out = new Uint8Array(ow * oh * c);
  for (let p = 0; p < ow * oh; p++) for (let k = 0; k < c; k++) out[p * c + k] = fill[k]!;
  for (let y = 0; y < height; y++) {
    out.set(data.subarray(y * width * c, (y + 1) * width * c), ((y + top) * ow + left) * c);
  }
  return { data: out, width: ow, height: oh, channels: c };
}
