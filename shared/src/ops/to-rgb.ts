import { assertRawImage, type RawImage } from "../image.ts";

/**
 * Convert any RawImage to 3-channel RGB. Gray is replicated. Alpha is composited onto `background`
 * (RGB 0..255, default white) with integer rounding: out = round((c * a + bg * (255 - a)) / 255).
 * Returns the input itself when it is already RGB.
 */
export function toRGB(image: RawImage, background: readonly [number, number, number] = [255, 255, 255]): RawImage {
  assertRawImage(image, "toRGB");
  const { data, width, height, channels } = image;
  if (channels === 3) return image;
  const n = width * height;
  const out = new Uint8Array(n * 3);
  const [br, bg, bb] = background;
  if (channels === 1) {
    for (let p = 0, j = 0; p < n; p++, j += 3) out[j] = out[j + 1] = out[j + 2] = data[p]!;
  } else if (channels === 2) {
    for (let p = 0, i = 0, j = 0; p < n; p++, i += 2, j += 3) {
      const g = data[i]!;
      const a = data[i + 1]!;
      out[j] = blend(g, br, a);
      out[j + 1] = blend(g, bg, a);
      out[j + 2] = blend(g, bb, a);
    }
  } else {
    for (let p = 0, i = 0, j = 0; p < n; p++, i += 4, j += 3) {
      const a = data[i + 3]!;
      if (a === 255) {
        out[j] = data[i]!;
        out[j + 1] = data[i + 1]!;
        out[j + 2] = data[i + 2]!;
      } else {
        out[j] = blend(data[i]!, br, a);
        out[j + 1] = blend(data[i + 1]!, bg, a);
        out[j + 2] = blend(data[i + 2]!, bb, a);
      }
    }
  }
  return { data: out, width, height, channels: 3 };
}

function blend(c: number, bg: number, a: number): number {
  return ((c * a + bg * (255 - a) + 127) / 255) | 0;
}
