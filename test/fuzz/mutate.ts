// Deterministic mutations of JPEG and PNG files for the fuzz suite: a seeded PRNG picks the mutations, so
// the same seed files give the same corpus on every run and machine. Each input is named by how it was made.

/** mulberry32, the seeded PRNG the trainer initialises weights with (uniform in [0, 1)). */
export { seededRandom as prng } from "../../trainer/src/model/init.ts";

export interface FuzzInput {
  name: string;
  bytes: Uint8Array;
}

const u16 = (b: Uint8Array, i: number) => (b[i]! << 8) | b[i + 1]!;

/** Offset of the first JPEG start-of-frame segment (SOF0-SOF15, not DHT/JPG/DAC), or -1. */
export function jpegSof(b: Uint8Array): number {
  let i = 2;
  while (i + 4 <= b.length && b[i] === 0xff) {
    const m = b[i + 1]!;
    if (m >= 0xc0 && m <= 0xcf && m !== 0xc4 && m !== 0xc8 && m !== 0xcc) return i;
    if (m === 0xda) return -1;
    i += 2 + u16(b, i + 2);
  }
  return -1;
}

/** Offset of the first SOS marker (0xFFDA), or -1. */
function jpegSos(b: Uint8Array): number {
  for (let i = 2; i + 1 < b.length; i++) if (b[i] === 0xff && b[i + 1] === 0xda) return i;
  return -1;
}

export function withJpegSize(b: Uint8Array, height: number, width: number): Uint8Array {
  const out = b.slice();
  const sof = jpegSof(out);
  if (sof < 0) return out;
  out[sof + 5] = height >> 8;
  out[sof + 6] = height & 255;
  out[sof + 7] = width >> 8;
  out[sof + 8] = width & 255;
  return out;
}

/** The scans repeated `times` times before EOI (a progressive JPEG with many redundant scans). */
function repeatScans(b: Uint8Array, times: number): Uint8Array {
  const sos = jpegSos(b);
  const eoi = b.length - 2;
  if (sos < 0 || b[eoi] !== 0xff || b[eoi + 1] !== 0xd9) return b;
  const scans = b.subarray(sos, eoi);
  const out = new Uint8Array(sos + scans.length * times + 2);
  out.set(b.subarray(0, sos));
  for (let k = 0; k < times; k++) out.set(scans, sos + k * scans.length);
  out.set([0xff, 0xd9], out.length - 2);
  return out;
}

const CRC_TABLE = Array.from({ length: 256 }, (_, n) => {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  return c >>> 0;
});
function crc32(b: Uint8Array): number {
  let c = 0xffffffff;
  for (const x of b) c = CRC_TABLE[(c ^ x) & 255]! ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

/** PNG with IHDR width/height replaced; the CRC is fixed so only the sizes are wrong. */
export function withPngSize(b: Uint8Array, width: number, height: number): Uint8Array {
  const out = b.slice();
  const view = new DataView(out.buffer);
  view.setUint32(16, width >>> 0);
  view.setUint32(20, height >>> 0);
  view.setUint32(29, crc32(out.subarray(12, 29)));
  return out;
}

/** Offset of the first chunk of `type` (its length field), or -1. */
function pngChunk(b: Uint8Array, type: string): number {
  const view = new DataView(b.buffer, b.byteOffset, b.byteLength);
  for (let i = 8; i + 8 <= b.length; ) {
    const t = String.fromCharCode(b[i + 4]!, b[i + 5]!, b[i + 6]!, b[i + 7]!);
    if (t === type) return i;
    i += 12 + view.getUint32(i);
  }
  return -1;
}

function withChunkLength(b: Uint8Array, type: string, length: number): Uint8Array {
  const out = b.slice();
  const at = pngChunk(out, type);
  if (at >= 0) new DataView(out.buffer).setUint32(at, length >>> 0);
  return out;
}

/** Structured mutations: sizes, aspect ratios, scans, chunk lengths; then `randomPerSeed` random ones. */
/** A WebP's chunks after the RIFF header: [fourcc, offset of the chunk header]. */
function webpChunks(b: Uint8Array): [string, number][] {
  const out: [string, number][] = [];
  const dv = new DataView(b.buffer, b.byteOffset, b.byteLength);
  for (let at = 12; at + 8 <= b.length; ) {
    out.push([String.fromCharCode(...b.subarray(at, at + 4)), at]);
    at += 8 + dv.getUint32(at + 4, true) + (dv.getUint32(at + 4, true) & 1);
  }
  return out;
}

/** The WebP with the RIFF size or its first chunk's length set to `len`. */
function withWebpLength(seed: Uint8Array, which: "RIFF" | "chunk", len: number): Uint8Array {
  const out = seed.slice();
  new DataView(out.buffer).setUint32(which === "RIFF" ? 4 : 16, len >>> 0, true);
  return out;
}

/**
 * The WebP with its size written as width x height wherever the file states one: the VP8X canvas (24 bits
 * each, minus 1), a VP8 key frame (14 bits each) and a VP8L header (14 bits each, minus 1). Values are
 * masked to each field's width, so the largest each can say is what a hostile file can say.
 */
export function withWebpSize(seed: Uint8Array, width: number, height: number): Uint8Array {
  const out = seed.slice();
  const dv = new DataView(out.buffer);
  for (const [fourcc, at] of webpChunks(out)) {
    const p = at + 8;
    if (fourcc === "VP8X" && p + 10 <= out.length) {
      const w = (width - 1) & 0xffffff;
      const h = (height - 1) & 0xffffff;
      out.set([w & 255, (w >> 8) & 255, w >> 16, h & 255, (h >> 8) & 255, h >> 16], p + 4);
    } else if (fourcc === "VP8 " && p + 10 <= out.length) {
      dv.setUint16(p + 6, width & 0x3fff, true);
      dv.setUint16(p + 8, height & 0x3fff, true);
    } else if (fourcc === "VP8L" && p + 5 <= out.length) {
      const bits = ((width - 1) & 0x3fff) | (((height - 1) & 0x3fff) << 14) | (dv.getUint32(p + 1, true) & 0xf0000000);
      dv.setUint32(p + 1, bits >>> 0, true);
    }
  }
  return out;
}

export function mutations(seedName: string, seed: Uint8Array, rng: () => number, randomPerSeed: number): FuzzInput[] {
  const out: FuzzInput[] = [];
  const add = (what: string, bytes: Uint8Array) => out.push({ name: `${seedName}:${what}`, bytes });
  const isJpeg = seed[0] === 0xff && seed[1] === 0xd8;
  const isWebp = String.fromCharCode(...seed.subarray(0, 4)) === "RIFF" && String.fromCharCode(...seed.subarray(8, 12)) === "WEBP";
  add("as is", seed);
  for (const f of [0.05, 0.3, 0.6, 0.95]) add(`truncated to ${Math.round(f * 100)}%`, seed.subarray(0, Math.floor(seed.length * f)));
  if (isJpeg) {
    for (const [h, w] of [[0, 30], [30, 0], [0, 0], [65535, 65535], [1, 65535], [65535, 1], [1, 60000], [60000, 1], [2, 40000], [4000, 1]]) add(`SOF ${h}x${w}`, withJpegSize(seed, h!, w!));
    for (const times of [2, 50]) add(`scans x${times}`, repeatScans(seed, times));
  } else if (isWebp) {
    for (const [w, h] of [[0, 16], [24, 0], [16383, 16383], [16384, 16384], [1, 16383], [16383, 1], [16_777_216, 16_777_216], [1, 16_777_216]]) add(`WebP ${w}x${h}`, withWebpSize(seed, w!, h!));
    for (const len of [0, 4, 0x7fffffff, 0xffffffff]) add(`RIFF length ${len}`, withWebpLength(seed, "RIFF", len));
    for (const len of [0, 1, 0x7fffffff, 0xffffffff]) add(`first chunk length ${len}`, withWebpLength(seed, "chunk", len));
  } else {
    for (const [w, h] of [[0, 16], [24, 0], [2_400_000, 1], [1, 2_400_000], [240_000, 1], [1, 240_000], [65535, 65535], [0x7fffffff, 0x7fffffff], [0xffffffff, 1]]) add(`IHDR ${w}x${h}`, withPngSize(seed, w!, h!));
    for (const len of [0, 1, 0x7fffffff, 0xffffffff]) add(`IDAT length ${len}`, withChunkLength(seed, "IDAT", len));
    add("IHDR length 0", withChunkLength(seed, "IHDR", 0));
    add("IEND missing", seed.subarray(0, seed.length - 12));
  }
  for (let k = 0; k < randomPerSeed; k++) {
    const b = seed.slice();
    const kind = Math.floor(rng() * 3);
    if (kind === 0) {
      const n = 1 + Math.floor(rng() * 8);
      for (let j = 0; j < n; j++) b[Math.floor(rng() * b.length)] = Math.floor(rng() * 256);
      add(`random: ${n} bytes set (#${k})`, b);
    } else if (kind === 1) {
      // in the header, where the sizes, tables and chunk lengths live
      const at = Math.floor(rng() * Math.min(b.length, 200));
      b[at] = Math.floor(rng() * 256);
      add(`random: header byte ${at} (#${k})`, b);
    } else {
      const at = Math.floor(rng() * b.length);
      const len = Math.floor(rng() * 64);
      add(`random: ${len} bytes cut at ${at} (#${k})`, new Uint8Array([...b.subarray(0, at), ...b.subarray(Math.min(b.length, at + len))]));
    }
  }
  return out;
}
