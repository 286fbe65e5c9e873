/**
 * The one image value every operation takes and returns: 8-bit samples, row-major, channels interleaved
 * (HWC). `channels` is 1 (gray), 2 (gray + alpha), 3 (RGB) or 4 (RGBA).
 */
export interface RawImage {
  data: Uint8Array;
  width: number;
  height: number;
  channels: 1 | 2 | 3 | 4;
}

/** Image formats `sniffFormat` can recognise; only "jpeg", "png" and "webp" can be decoded. */
export type ImageFormat = "jpeg" | "png" | "webp" | "gif" | "bmp" | "tiff" | "avif" | "unknown";

/** A decoded image after EXIF orientation, with where it came from. */
export interface DecodedImage extends RawImage {
  format: string;
  /** The EXIF orientation (1-8) that was applied; 1 when the file has none. */
  orientation: number;
  /** What the decoder tolerated and noted (stray bytes before a marker, a missing EOI, ...); absent when nothing. */
  warnings?: string[];
}

/** Throws a plain Error (a bug, not a user mistake) when `image` is not internally consistent. */
export function assertRawImage(image: RawImage, where: string): void {
  const { data, width, height, channels } = image;
  if (!Number.isInteger(width) || !Number.isInteger(height) || width < 1 || height < 1) {
    throw new Error(`${where}: image size must be positive integers, got ${width}x${height}`);
  }
  if (channels !== 1 && channels !== 2 && channels !== 3 && channels !== 4) {
    throw new Error(`${where}: channels must be 1, 2, 3 or 4, got ${channels}`);
  }
  if (data.length !== width * height * channels) {
    throw new Error(`${where}: data has ${data.length} bytes but ${width}x${height}x${channels} needs ${width * height * channels}`);
  }
}
