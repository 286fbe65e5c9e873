// Large generated PNG and WebP bodies for the edge memory benchmarks (decoder-peak.ts, isolate-memory.ts).
// webp() needs cwebp (Debian package `webp`) and ../shared/data/imagenette.
import { spawnSync } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { deflateSync } from "node:zlib";
import { IMAGENETTE_DIR } from "../../test/helpers/data.ts";

function crc32(bytes: Uint8Array): number {
  let c = ~0;
  for (const b of bytes) {
    c ^= b;
    for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ 0xedb88320 : c >>> 1;
  }
  return ~c >>> 0;
}

/** A 4:3 smooth-pattern PNG (filter 0 rows, zlib level 1): photographic-ish, fast to write at 12 MP. */
export function png(width: number, height: number, channels: 3 | 4, depth: 8 | 16): Uint8Array {
  const bps = (channels * depth) / 8;
  const raw = new Uint8Array(height * (1 + width * bps));
  for (let y = 0, at = 0; y < height; y++) {
    raw[at++] = 0;
    for (let x = 0; x < width; x++) {
      const v = [(x * 255) / width, (y * 255) / height, 128 + 100 * Math.sin((x + 2 * y) / 9), 128 + 127 * Math.cos(x / 50)];
      for (let c = 0; c < channels; c++) {
        if (depth === 16) {
          raw[at++] = v[c]! | 0;
          raw[at++] = (x * 7 + y) & 255;
        } else raw[at++] = v[c]! | 0;
      }
    }
  }
  const chunk = (type: string, body: Uint8Array): Uint8Array => {
    const out = new Uint8Array(12 + body.length);
    const dv = new DataView(out.buffer);
    dv.setUint32(0, body.length);
    out.set(Array.from(type, (ch) => ch.charCodeAt(0)), 4);
    out.set(body, 8);
    dv.setUint32(8 + body.length, crc32(out.subarray(4, 8 + body.length)));
    return out;
  };
  const ihdr = new Uint8Array(13);
  new DataView(ihdr.buffer).setUint32(0, width);
  new DataView(ihdr.buffer).setUint32(4, height);
  ihdr.set([depth, channels === 4 ? 6 : 2, 0, 0, 0], 8);
  const parts = [new Uint8Array([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), chunk("IHDR", ihdr), chunk("IDAT", deflateSync(raw, { level: 1 })), chunk("IEND", new Uint8Array(0))];
  return Buffer.concat(parts);
}

/** cwebp an Imagenette photo upscaled to width x height (lossless gets an alpha ramp via a PNG source). */
export function webp(dir: string, width: number, height: number, lossless: boolean, alpha = lossless): Uint8Array {
  const out = join(dir, `${width}x${height}-${lossless}-${alpha}.webp`);
  const src = alpha ? join(dir, `${width}x${height}.png`) : join(IMAGENETTE_DIR, "val/n03888257/ILSVRC2012_val_00001440.JPEG");
  if (alpha) writeFileSync(src, png(width, height, 4, 8));
  const args = lossless ? ["-lossless", "-exact", "-m", "0", "-q", "0"] : ["-q", "80", ...(alpha ? [] : ["-resize", String(width), String(height)])];
  const r = spawnSync("cwebp", ["-quiet", ...args, src, "-o", out]);
  if (r.status !== 0) throw new Error(`cwebp failed: ${r.stderr}`);
  return new Uint8Array(readFileSync(out));
}

