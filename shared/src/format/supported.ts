/** The one place that says what can be decoded, used in every "unsupported" message. */
export const SUPPORTED_FORMATS_TEXT =
  "JPEG (baseline or progressive; 8-bit; gray, RGB, CMYK or YCCK), PNG (any standard bit depth and color type, interlaced or not) and WebP (lossy or lossless, with or without alpha; still images)";

export const CONVERT_HINT = "convert it to JPEG, PNG or WebP and send it again";
