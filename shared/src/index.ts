/**
 * @resnet-edge/shared: the one preprocessing path used by the trainer and the edge worker, so a model sees
 * identical pixels in training and in serving. Pure TypeScript; the only runtime-specific code is how the
 * decoders' wasm modules are handed over (`initCodecs()` from `@resnet-edge/shared/node` or
 * `@resnet-edge/shared/workerd`, once at startup, which calls `registerCodecs`).
 *
 * `preprocess(bytes, config)` applies the recipe (`PreprocessConfig`, saved in every model manifest) in
 * this fixed order:
 *   1. sniff the format from magic bytes (JPEG, PNG, WebP; anything else: ImageError "unsupported_format")
 *   2. read the header: size, EXIF orientation; no pixel memory yet
 *   3. refuse width*height > maxPixels ("image_too_large")
 *   4. refuse what the decoders cannot read ("unsupported_variant": 12-bit, arithmetic, lossless JPEG, ...)
 *      and truncated or corrupt structure ("corrupt_image": JPEG data cut short, PNG chunk CRC/IEND)
 *   5. decode: libjpeg-turbo 2.1.5 (shared/wasm/jpeg) for JPEG and libwebp (shared/wasm/webp) for WebP, each
 *      at the largest 1/2, 1/4, 1/8 reduction that still covers the resize target (shrink-on-load:
 *      shrinkDenominator in ops/shrink-on-load.ts; the resize below still makes the final step); a progressive
 *      JPEG at 1/8 by the DC-only decoder (codecs/jpeg-dc.ts: libjpeg's 1/8 output from the DC coefficients,
 *      without its whole-image coefficient buffer; 4:2:0 chroma estimated); jpeg-js for CMYK/YCCK JPEG; the
 *      png crate (@jsquash/png)
 *   6. apply EXIF orientation 1-8
 *   7. to RGB: gray replicated, alpha composited on `background` (default white)
 *   8. resize to targetSize(config.resize) with Pillow's antialiased BILINEAR (triangle) filter (with
 *      `resize.align`, both sides rounded to the nearest multiple of it: the net's stride)
 *   9. center crop to config.crop (padding with `background` where the image is smaller)
 *  10. normalize (v / 255 - mean) / std to float32, layout NCHW (default) or NHWC
 * `preprocessImage(image, config)` runs steps 7-10 on pixels the caller already decoded; `opts.views` adds
 * the TTA views. `servingConfig(manifest, request)` is the config the worker applies for a request.
 * No colour management: ICC profiles are ignored (as Pillow does by default); CMYK uses the naive formula.
 */
export * from "./errors.ts";
export * from "./config.ts";
export * from "./manifest.ts";
export * from "./vocab.ts";
export * from "./feedback-layout.ts";
export * from "./model-layout.ts";
export { isLocalPath, lastPathSegment, stripLocalPaths } from "./local-paths.ts";
export { assertRawImage, type DecodedImage, type ImageFormat, type RawImage } from "./image.ts";
export { sniffFormat } from "./format/sniff.ts";
export { checkPixelLimit, readImageHeader, type ImageHeader } from "./format/header.ts";
export { readExifOrientation } from "./format/exif.ts";
export { SUPPORTED_FORMATS_TEXT } from "./format/supported.ts";
export { codecsRegistered, registerCodecs, type CodecModules } from "./codecs/registry.ts";
export { holdDecoderInstances } from "./codecs/instance-hold.ts";
export { decodeImage, decodeUpright, decoderMemoryBytes, type DecodeOptions, type UprightDecode } from "./decode.ts";
export { checkDecodeLimits, decodePathAtScale, jpegDecodePath, pngDecodePath, webpDecodePath, JPEG_MAX_SIDE, type DecodeLimits, type DecodePath } from "./format/decode-limits.ts";
export { isDcDecodable } from "./codecs/jpeg-dc.ts";
export { MAX_JPEG_SCANS } from "./format/jpeg-header.ts";
export { orient } from "./ops/orient.ts";
export { toRGB } from "./ops/to-rgb.ts";
export { resize } from "./ops/resize.ts";
export { alignSide, targetSize } from "./ops/target-size.ts";
export { servingConfig, servingEdge, defaultEdgeFor, nativeEdgeWithin, LEGACY_MIN_EDGE, fixedInputSize, type ServingOptions, type ServingSize } from "./serving.ts";
export { shrinkDenominator, type ShrinkDenominator } from "./ops/shrink-on-load.ts";
export { centerCrop } from "./ops/center-crop.ts";
export { pad, type Padding } from "./ops/pad.ts";
export { normalizeToTensor, type Tensor, type TensorLayout } from "./ops/normalize.ts";
export { preprocess, preprocessImage, shiftOf, TTA_VIEWS, type PreprocessOptions, type PreprocessResult, type TtaView, type ViewTensor } from "./preprocess.ts";
