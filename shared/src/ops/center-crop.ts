import { assertRawImage, type RawImage } from "../image.ts";
import { pad } from "./pad.ts";

/**
 * Cut the central `width`x`height` region. Offsets are floor((size - crop) / 2), so an odd surplus leaves
 * the extra pixel on the right/bottom. Where the image is smaller than the crop it is first padded, centered
 * the same way, with `fill` (one value per channel; default 0, torchvision's CenterCrop behaviour).
 */
export function centerCrop(image: RawImage, width: number, height: number, fill?: readonly number[]): RawImage {
  assertRawImage(image, "centerCrop");
  if (!Number.isInteger(width) || !Number.isInteger(height) || width < 1 || height < 1) {
    throw new Error(`centerCrop: crop size must be positive integers, got ${width}x${height}`);
  }
  let img = image;
  if (img.width < width || img.height < height) {
    const dw = Math.max(0, width - img.width);
    const dh = Math.max(0, height - img.height);
    const left = Math.floor(dw / 2);
    const top = Math.floor(dh / 2);
    img = pad(img, { top, bottom: dh - top, left, right: dw - left }, fill ?? new Array(img.channels).fill(0));
  }
  if (img.width === width && img.height === height) return img === image ? { ...image, data: image.data.slice() } : img;
  const { data, channels: c } = img;
  const x0 = Math.floor((img.width - width) / 2);
  const y0 = Math.floor((img.height - height) / 2);
  const out = new Uint8Array(width * height * c);
  for (let y = 0; y < height; y++) {
    const s = ((y0 + y) * img.width + x0) * c;
    out.set(data.subarray(s, s + width * c), y * width * c);
  }
  return { data: out, width, height, channels: c };
}
