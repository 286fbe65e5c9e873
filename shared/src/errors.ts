/**
 * Typed errors for everything that can go wrong with a user's image or a config file.
 * `code` is stable (the edge maps it to an HTTP status); `message` says what happened and what to do.
 */
export type ImageErrorCode =
  | "empty_input" // zero bytes
  | "unsupported_format" // not JPEG/PNG/WebP (e.g. GIF, AVIF, BMP, text)
  | "unsupported_variant" // a JPEG/PNG/WebP flavour the decoder cannot read (e.g. 12-bit JPEG, animated WebP)
  | "image_too_large" // header says width*height > maxPixels; refused before any pixel is allocated
  | "corrupt_image"; // truncated or malformed data

export class ImageError extends Error {
  override readonly name = "ImageError";
  constructor(
    readonly code: ImageErrorCode,
    message: string,
    readonly detail: Record<string, unknown> = {},
  ) {
    super(message);
  }
}

/** A config or manifest that does not validate. `path` names the offending field, e.g. `preprocess.mean[1]`. */
export class ConfigError extends Error {
  override readonly name = "ConfigError";
  constructor(
    readonly path: string,
    message: string,
  ) {
    super(`${path}: ${message}`);
  }
}
