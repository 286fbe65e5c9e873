// The one C entry point of the WebP decoder wasm: decode a still WebP (lossy, lossless, with or without
// alpha) to 8-bit RGB or RGBA, optionally scaled down by libwebp's own rescaler while decoding, so that a
// large lossy image never exists at full size in memory. Everything else (header parsing, limits, the
// scale choice, compositing alpha) happens in TypeScript (shared/src/format/webp-header.ts,
// shared/src/codecs/webp.ts).
//
// Exports (see build.sh): webp_decode, webp_result, webp_free_result, malloc, free.
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include "src/webp/decode.h"

// [status (VP8StatusCode), width, height, channels, pointer to pixels, byte length]
static int32_t result[6];

#define EXPORT(name) __attribute__((used, export_name(name)))

// Decode `size` bytes at `data`. `scaled_width`/`scaled_height` > 0 ask libwebp to rescale while decoding.
// `channels` is 3 (RGB) or 4 (RGBA, not premultiplied). Returns a pointer to `result`; on success the
// pixels are owned by the module until webp_free_result().
EXPORT("webp_decode")
int32_t* webp_decode(const uint8_t* data, size_t size, int scaled_width, int scaled_height, int channels) {
  WebPDecoderConfig config;
  for (int i = 0; i < 6; i++) result[i] = 0;
  if (!WebPInitDecoderConfig(&config)) {
    result[0] = VP8_STATUS_INVALID_PARAM;
    return result;
  }
  config.output.colorspace = channels == 4 ? MODE_RGBA : MODE_RGB;
  if (scaled_width > 0 && scaled_height > 0) {
    config.options.use_scaling = 1;
    config.options.scaled_width = scaled_width;
    config.options.scaled_height = scaled_height;
  }
  VP8StatusCode status = WebPDecode(data, size, &config);
  result[0] = status;
  if (status != VP8_STATUS_OK) {
    WebPFreeDecBuffer(&config.output);
    return result;
  }
  result[1] = config.output.width;
  result[2] = config.output.height;
  result[3] = channels;
  result[4] = (int32_t)(uintptr_t)config.output.u.RGBA.rgba;
  result[5] = (int32_t)config.output.u.RGBA.size;
  return result;
}

// Release the pixels of the last successful webp_decode (libwebp allocated them with WebPSafeMalloc).
EXPORT("webp_free_result")
void webp_free_result(uint8_t* pixels) {
  WebPFree(pixels);
}
