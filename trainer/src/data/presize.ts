import { centerCrop, resize, targetSize, toRGB, type RawImage } from "@resnet-edge/shared";

/**
 * The item transform Resize(presize): shared's own ops in shared's order (to RGB -> Pillow-bilinear
 * resize of the shortest edge -> centre crop), stopping before normalisation so the result can be
 * cached as bytes and augmented per batch. The square crop is what fastai's Resize does on validation;
 * training then takes random-resized crops inside it.
 */
export function presizeImage(image: RawImage, presize: number, background: [number, number, number]): RawImage {
  let img = toRGB(image, background);
  const t = targetSize(img.width, img.height, { mode: "shortest-edge", size: presize });
  if (t.width !== img.width || t.height !== img.height) img = resize(img, t.width, t.height);
  return centerCrop(img, presize, presize, background);
}
