import { assertRawImage, type RawImage } from "../image.ts";

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
  const out = new Uint8Array(data.length);
  // For each output pixel (x, y), find the stored pixel (sx, sy) that lands there.
  for (let y = 0; y < oh; y++) {
    for (let x = 0; x < ow; x++) {
      let sx: number;
      let sy: number;
      switch (orientation) {
        case 2: sx = w - 1 - x; sy = y; break;
        case 3: sx = w - 1 - x; sy = h - 1 - y; break;
        case 4: sx = x; sy = h - 1 - y; break;
        case 5: sx = y; sy = x; break;
        case 6: sx = y; sy = h - 1 - x; break;
        case 7: sx = w - 1 - y; sy = h - 1 - x; break;
        default: sx = w - 1 - y; sy = x; break; // 8
      }
      const o = (y * ow + x) * c;
      const s = (sy * w + sx) * c;
      for (let k = 0; k < c; k++) out[o + k] = data[s + k]!;
    }
  }
  return { data: out, width: ow, height: oh, channels: c };
}
