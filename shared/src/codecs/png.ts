import { decode as decodeRgba8, decode_rgba16 as decodeRgba16 } from "@jsquash/png/codec/pkg/squoosh_png.js";
import { ImageError } from "../errors.ts";
import type { RawImage } from "../image.ts";
import type { PngHeader } from "../format/png-header.ts";

/**
 * PNG through @jsquash/png (the Rust `png` crate), which expands every PNG (palette, gray, gray + alpha,
 * 1/2/4-bit, tRNS, Adam7 interlacing) to RGBA. 16-bit files are read at 16 bits and scaled here with
 * rounding, round(v * 255 / 65535), because the 8-bit path truncates (v >> 8). The result keeps only the
 * channels the file really has: gray -> 1, gray + alpha -> 2, RGB or opaque palette -> 3, anything with
 * alpha or tRNS -> 4.
 */
export function decodePng(bytes: Uint8Array, header: PngHeader): RawImage {
  let rgba: Uint8Array;
  let width: number;
  let height: number;
  try {
    if (header.bitDepth === 16) {
      const img = decodeRgba16(bytes);
      try {
        width = img.width;
        height = img.height;
        const src = img.data; // a view into wasm memory: copy before free()
        rgba = new Uint8Array(src.length);
        for (let i = 0; i < src.length; i++) rgba[i] = ((src[i]! * 255 + 32767) / 65535) | 0;
      } finally {
        img.free();
      }
    } else {
      const img = decodeRgba8(bytes);
      width = img.width;
      height = img.height;
      rgba = new Uint8Array(img.data.buffer, img.data.byteOffset, img.data.byteLength);
    }
  } catch (e) {
    const detail = e instanceof Error ? e.message : String(e);
    throw new ImageError("corrupt_image", `the PNG could not be decoded (${detail}); send the complete, unmodified file`, { format: "png", decoder: detail });
  }
  const keep = channelsOf(header);
  if (keep === 4) return { data: rgba, width, height, channels: 4 };
  const n = width * height;
  const data = new Uint8Array(n * keep);
  for (let p = 0, i = 0, j = 0; p < n; p++, i += 4) {
    data[j++] = rgba[i]!;
    if (keep === 2) data[j++] = rgba[i + 3]!;
    else if (keep === 3) {
      data[j++] = rgba[i + 1]!;
      data[j++] = rgba[i + 2]!;
    }
  }
  return { data, width, height, channels: keep };
}

function channelsOf(h: PngHeader): 1 | 2 | 3 | 4 {
  if (h.colorType === 6 || h.hasTransparency) return 4;
  if (h.colorType === 4) return 2;
  if (h.colorType === 0) return 1;
  return 3;
}
