/** The one place that says what can be decoded, used in every "unsupported" message. */
export const SUPPORTED_FORMATS_TEXT =
  "JPEG (baseline or progressive; 8-bit; gray, RGB, CMYK or YCCK) and PNG (any standard bit depth and color type, interlaced or not)";

export const CONVERT_HINT = "convert it to JPEG or PNG and send it again";
