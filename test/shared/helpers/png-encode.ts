// A small, independent PNG writer for tests: every color type, bit depths 1-16, PLTE/tRNS, Adam7 interlacing.
// Lets the tests build PNG variants the team data lacks and check the decoder against known samples.
import { deflateSync } from "node:zlib";

export interface PngSpec {
  width: number;
  height: number;
  /** 0 gray, 2 RGB, 3 palette, 4 gray + alpha, 6 RGBA. */
  colorType: 0 | 2 | 3 | 4 | 6;
  bitDepth: 1 | 2 | 4 | 8 | 16;
  /** Samples row-major, `channels` per pixel, each 0..2^bitDepth-1 (palette: indices). */
  samples: number[];
  interlace?: boolean;
  palette?: [number, number, number][];
  /** tRNS body: palette alphas, or the transparent gray / RGB sample value(s). */
  trns?: number[];
  /** Extra chunks inserted before IDAT, e.g. eXIf. */
  extra?: { type: string; body: Uint8Array }[];
  /** Replace the IDAT body (still with a correct CRC), e.g. with a broken zlib stream. */
  idat?: Uint8Array;
}

export const CHANNELS = { 0: 1, 2: 3, 3: 1, 4: 2, 6: 4 } as const;

const CRC_TABLE = Array.from({ length: 256 }, (_, n) => {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  return c >>> 0;
});

function crc(bytes: Uint8Array): number {
  let c = 0xffffffff;
  for (const b of bytes) c = CRC_TABLE[(c ^ b) & 0xff]! ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

function chunk(type: string, body: Uint8Array): Uint8Array {
  const out = new Uint8Array(12 + body.length);
  const dv = new DataView(out.buffer);
  dv.setUint32(0, body.length);
  for (let i = 0; i < 4; i++) out[4 + i] = type.charCodeAt(i);
  out.set(body, 8);
  dv.setUint32(8 + body.length, crc(out.subarray(4, 8 + body.length)));
  return out;
}

/** Pack one (sub)image's scanlines, filter type 0 (None). */
function scanlines(spec: PngSpec, xs: number[], ys: number[]): number[] {
  const ch = CHANNELS[spec.colorType];
  const bytes: number[] = [];
  for (const y of ys) {
    bytes.push(0);
    if (spec.bitDepth === 16 || spec.bitDepth === 8) {
      for (const x of xs) {
        for (let k = 0; k < ch; k++) {
          const v = spec.samples[(y * spec.width + x) * ch + k]!;
          if (spec.bitDepth === 16) bytes.push(v >> 8, v & 255);
          else bytes.push(v);
        }
      }
    } else {
      let acc = 0;
      let bits = 0;
      for (const x of xs) {
        acc = (acc << spec.bitDepth) | spec.samples[y * spec.width + x]!;
        bits += spec.bitDepth;
        if (bits === 8) {
          bytes.push(acc);
          acc = 0;
          bits = 0;
        }
      }
      if (bits > 0) bytes.push(acc << (8 - bits));
    }
  }
  return bytes;
}

const ADAM7 = [
  [0, 0, 8, 8],
  [4, 0, 8, 8],
  [0, 4, 4, 8],
  [2, 0, 4, 4],
  [0, 2, 2, 4],
  [1, 0, 2, 2],
  [0, 1, 1, 2],
] as const;

export function encodePng(spec: PngSpec): Uint8Array {
  const ihdr = new Uint8Array(13);
  const dv = new DataView(ihdr.buffer);
  dv.setUint32(0, spec.width);
  dv.setUint32(4, spec.height);
  ihdr[8] = spec.bitDepth;
  ihdr[9] = spec.colorType;
  ihdr[12] = spec.interlace ? 1 : 0;
  const range = (from: number, to: number, step: number): number[] => {
    const r: number[] = [];
    for (let i = from; i < to; i += step) r.push(i);
    return r;
  };
  let raw: number[] = [];
  if (spec.interlace) {
    for (const [x0, y0, dx, dy] of ADAM7) {
      const xs = range(x0, spec.width, dx);
      const ys = range(y0, spec.height, dy);
      if (xs.length && ys.length) raw = raw.concat(scanlines(spec, xs, ys));
    }
  } else {
    raw = scanlines(spec, range(0, spec.width, 1), range(0, spec.height, 1));
  }
  const parts = [new Uint8Array([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), chunk("IHDR", ihdr)];
  if (spec.palette) parts.push(chunk("PLTE", new Uint8Array(spec.palette.flat())));
  if (spec.trns) {
    const body =
      spec.colorType === 3 ? new Uint8Array(spec.trns) : new Uint8Array(spec.trns.flatMap((v) => [v >> 8, v & 255]));
    parts.push(chunk("tRNS", body));
  }
  for (const e of spec.extra ?? []) parts.push(chunk(e.type, e.body));
  parts.push(chunk("IDAT", spec.idat ?? deflateSync(new Uint8Array(raw))), chunk("IEND", new Uint8Array(0)));
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}
