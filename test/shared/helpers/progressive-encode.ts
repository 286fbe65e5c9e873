// A small progressive JPEG encoder for tests: any sampling factors, any scan script (interleaved or
// per-component DC scans, successive approximation of the DC, spectral selection of the AC with an optional
// point transform), restart intervals, JFIF/Adobe markers and component ids. What sharp and mozjpeg cannot be
// asked for. Float DCT, the standard (Annex K) Huffman tables for every component, one EOB per block in AC
// scans (no EOB runs), no AC refinement scans. Slow (a naive DCT): meant for images up to a few MP.

export interface Scan {
  /** Component indices (0-based, frame order). */
  comps: number[];
  ss: number;
  se: number;
  ah: number;
  al: number;
}

export interface ProgressiveOptions {
  /** Sampling factors per component, [h, v]; the number of entries is the number of components (1 or 3). */
  sampling: [number, number][];
  /** Default: libjpeg's standard progression for DC and AC without AC refinement (see `standardScript`). */
  script?: Scan[];
  restartInterval?: number;
  /** IJG quality 1-100 applied to the Annex K tables (default 90). */
  quality?: number;
  /** Component ids in the frame header (default 1, 2, 3). */
  ids?: number[];
  /** Write a JFIF APP0 (default true). */
  jfif?: boolean;
  /** Write an Adobe APP14 with this transform flag (default none). */
  adobeTransform?: number;
  /** Treat the input as already-separate component values (no RGB -> YCbCr): for Adobe transform 0. */
  rawComponents?: boolean;
}

/** DC first (interleaved, Al=1), AC spectral bands per component (Al=0), DC refinement: every coefficient ends at Al=0. */
export function standardScript(components: number, opts: { interleavedDc?: boolean; dcAl?: number } = {}): Scan[] {
  const all = Array.from({ length: components }, (_, i) => i);
  const dcAl = opts.dcAl ?? 1;
  const dc: Scan[] = opts.interleavedDc === false ? all.map((c) => ({ comps: [c], ss: 0, se: 0, ah: 0, al: dcAl })) : [{ comps: all, ss: 0, se: 0, ah: 0, al: dcAl }];
  const ac: Scan[] = all.flatMap((c) => [
    { comps: [c], ss: 1, se: 5, ah: 0, al: 0 },
    { comps: [c], ss: 6, se: 63, ah: 0, al: 0 },
  ]);
  const refine: Scan[] = [];
  for (let a = dcAl; a > 0; a--) {
    if (opts.interleavedDc === false) for (const c of all) refine.push({ comps: [c], ss: 0, se: 0, ah: a, al: a - 1 });
    else refine.push({ comps: all, ss: 0, se: 0, ah: a, al: a - 1 });
  }
  return [...dc, ...ac, ...refine];
}

const ZIGZAG = [0, 1, 8, 16, 9, 2, 3, 10, 17, 24, 32, 25, 18, 11, 4, 5, 12, 19, 26, 33, 40, 48, 41, 34, 27, 20, 13, 6, 7, 14, 21, 28, 35, 42, 49, 56, 57, 50, 43, 36, 29, 22, 15, 23, 30, 37, 44, 51, 58, 59, 52, 45, 38, 31, 39, 46, 53, 60, 61, 54, 47, 55, 62, 63];
const LUMA_Q = [16, 11, 10, 16, 24, 40, 51, 61, 12, 12, 14, 19, 26, 58, 60, 55, 14, 13, 16, 24, 40, 57, 69, 56, 14, 17, 22, 29, 51, 87, 80, 62, 18, 22, 37, 56, 68, 109, 103, 77, 24, 35, 55, 64, 81, 104, 113, 92, 49, 64, 78, 87, 103, 121, 120, 101, 72, 92, 95, 98, 112, 100, 103, 99];
const CHROMA_Q = [17, 18, 24, 47, 99, 99, 99, 99, 18, 21, 26, 66, 99, 99, 99, 99, 24, 26, 56, 99, 99, 99, 99, 99, 47, 66, 99, 99, 99, 99, 99, 99, ...Array(32).fill(99)];
const DC_BITS = [0, 1, 5, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0];
const DC_VALS = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11];
const AC_BITS = [0, 2, 1, 3, 3, 2, 4, 3, 5, 5, 4, 4, 0, 0, 1, 0x7d];
const AC_VALS = [
  0x01, 0x02, 0x03, 0x00, 0x04, 0x11, 0x05, 0x12, 0x21, 0x31, 0x41, 0x06, 0x13, 0x51, 0x61, 0x07, 0x22, 0x71, 0x14, 0x32, 0x81, 0x91, 0xa1, 0x08, 0x23, 0x42, 0xb1, 0xc1, 0x15, 0x52, 0xd1, 0xf0, 0x24, 0x33, 0x62,
  0x72, 0x82, 0x09, 0x0a, 0x16, 0x17, 0x18, 0x19, 0x1a, 0x25, 0x26, 0x27, 0x28, 0x29, 0x2a, 0x34, 0x35, 0x36, 0x37, 0x38, 0x39, 0x3a, 0x43, 0x44, 0x45, 0x46, 0x47, 0x48, 0x49, 0x4a, 0x53, 0x54, 0x55, 0x56, 0x57,
  0x58, 0x59, 0x5a, 0x63, 0x64, 0x65, 0x66, 0x67, 0x68, 0x69, 0x6a, 0x73, 0x74, 0x75, 0x76, 0x77, 0x78, 0x79, 0x7a, 0x83, 0x84, 0x85, 0x86, 0x87, 0x88, 0x89, 0x8a, 0x92, 0x93, 0x94, 0x95, 0x96, 0x97, 0x98, 0x99,
  0x9a, 0xa2, 0xa3, 0xa4, 0xa5, 0xa6, 0xa7, 0xa8, 0xa9, 0xaa, 0xb2, 0xb3, 0xb4, 0xb5, 0xb6, 0xb7, 0xb8, 0xb9, 0xba, 0xc2, 0xc3, 0xc4, 0xc5, 0xc6, 0xc7, 0xc8, 0xc9, 0xca, 0xd2, 0xd3, 0xd4, 0xd5, 0xd6, 0xd7, 0xd8,
  0xd9, 0xda, 0xe1, 0xe2, 0xe3, 0xe4, 0xe5, 0xe6, 0xe7, 0xe8, 0xe9, 0xea, 0xf1, 0xf2, 0xf3, 0xf4, 0xf5, 0xf6, 0xf7, 0xf8, 0xf9, 0xfa,
];

function codes(bits: number[], vals: number[]): Map<number, [number, number]> {
  const out = new Map<number, [number, number]>();
  let code = 0;
  let k = 0;
  for (let l = 1; l <= 16; l++) {
    for (let i = 0; i < bits[l - 1]!; i++) out.set(vals[k++]!, [code++, l]);
    code <<= 1;
  }
  return out;
}
const DC_CODES = codes(DC_BITS, DC_VALS);
const AC_CODES = codes(AC_BITS, AC_VALS);

function scaledTable(base: number[], quality: number): number[] {
  const scale = quality < 50 ? 5000 / quality : 200 - quality * 2;
  return base.map((q) => Math.min(255, Math.max(1, Math.floor((q * scale + 50) / 100))));
}

class Bits {
  bytes: number[] = [];
  private acc = 0;
  private n = 0;
  put(value: number, length: number): void {
    for (let i = length - 1; i >= 0; i--) {
      this.acc = (this.acc << 1) | ((value >> i) & 1);
      if (++this.n === 8) this.byte();
    }
  }
  private byte(): void {
    this.bytes.push(this.acc);
    if (this.acc === 0xff) this.bytes.push(0);
    this.acc = 0;
    this.n = 0;
  }
  /** Pad the last byte with 1 bits (before a marker). */
  flush(): void {
    while (this.n !== 0) this.put(1, 1);
  }
}

const category = (v: number): number => (v === 0 ? 0 : 32 - Math.clz32(Math.abs(v)));
const extraBits = (v: number, s: number): number => (v >= 0 ? v : v + (1 << s) - 1);

/**
 * Encode `rgba` (width x height, 4 bytes per pixel; for 1 component the first channel is the gray value)
 * as a progressive JPEG with the given sampling factors and scan script.
 */
export function encodeProgressive(rgba: Uint8Array | Uint8ClampedArray, width: number, height: number, opts: ProgressiveOptions): Uint8Array {
  const nc = opts.sampling.length;
  const hMax = Math.max(...opts.sampling.map((s) => s[0]));
  const vMax = Math.max(...opts.sampling.map((s) => s[1]));
  const mcuCols = Math.ceil(width / (8 * hMax));
  const mcuRows = Math.ceil(height / (8 * vMax));
  const quality = opts.quality ?? 90;
  const tables = [scaledTable(LUMA_Q, quality), scaledTable(CHROMA_Q, quality)];
  // component planes at full resolution
  const full: Float64Array[] = Array.from({ length: nc }, () => new Float64Array(width * height));
  for (let i = 0; i < width * height; i++) {
    const r = rgba[4 * i]!;
    const g = rgba[4 * i + 1]!;
    const b = rgba[4 * i + 2]!;
    if (nc === 1) full[0]![i] = r;
    else if (opts.rawComponents) {
      full[0]![i] = r;
      full[1]![i] = g;
      full[2]![i] = b;
    } else {
      full[0]![i] = 0.299 * r + 0.587 * g + 0.114 * b;
      full[1]![i] = -0.168735892 * r - 0.331264108 * g + 0.5 * b + 128;
      full[2]![i] = 0.5 * r - 0.418687589 * g - 0.081312411 * b + 128;
    }
  }
  // downsample (box average) into padded planes of whole MCUs, edges replicated; DCT; quantise
  const comps = opts.sampling.map(([h, v], c) => {
    const fx = hMax / h;
    const fy = vMax / v;
    const bw = mcuCols * h;
    const bh = mcuRows * v;
    const pw = bw * 8;
    const ph = bh * 8;
    const cw = Math.ceil(width / fx);
    const chh = Math.ceil(height / fy);
    const plane = new Float64Array(pw * ph);
    for (let y = 0; y < ph; y++) {
      for (let x = 0; x < pw; x++) {
        const sx = Math.min(x, cw - 1);
        const sy = Math.min(y, chh - 1);
        let sum = 0;
        let count = 0;
        for (let j = 0; j < fy; j++) {
          for (let i = 0; i < fx; i++) {
            const X = Math.min(width - 1, sx * fx + i);
            const Y = Math.min(height - 1, sy * fy + j);
            sum += full[c]![Y * width + X]!;
            count++;
          }
        }
        plane[y * pw + x] = sum / count;
      }
    }
    const q = tables[c === 0 ? 0 : 1]!;
    const coefs = new Int16Array(bw * bh * 64);
    const tmp = new Float64Array(64);
    for (let by = 0; by < bh; by++) {
      for (let bx = 0; bx < bw; bx++) {
        for (let v2 = 0; v2 < 8; v2++) {
          for (let u = 0; u < 8; u++) {
            let s = 0;
            for (let y = 0; y < 8; y++) {
              for (let x = 0; x < 8; x++) {
                s += (plane[(by * 8 + y) * pw + bx * 8 + x]! - 128) * COS[x * 8 + u]! * COS[y * 8 + v2]!;
              }
            }
            tmp[v2 * 8 + u] = (s * (u === 0 ? Math.SQRT1_2 : 1) * (v2 === 0 ? Math.SQRT1_2 : 1)) / 4;
          }
        }
        const o = (by * bw + bx) * 64;
        for (let k = 0; k < 64; k++) coefs[o + k] = Math.round(tmp[k]! / q[k]!);
      }
    }
    return { h, v, bw, bh, coefs, tq: c === 0 ? 0 : 1 };
  });

  const out: number[] = [0xff, 0xd8];
  const segment = (marker: number, body: number[]): void => {
    out.push(0xff, marker, (body.length + 2) >> 8, (body.length + 2) & 255, ...body);
  };
  if (opts.jfif ?? true) segment(0xe0, [0x4a, 0x46, 0x49, 0x46, 0, 1, 1, 0, 0, 1, 0, 1, 0, 0]);
  if (opts.adobeTransform !== undefined) segment(0xee, [0x41, 0x64, 0x6f, 0x62, 0x65, 0, 100, 0, 0, 0, 0, opts.adobeTransform]);
  for (let t = 0; t < (nc > 1 ? 2 : 1); t++) segment(0xdb, [t, ...ZIGZAG.map((nat) => tables[t]![nat]!)]);
  const ids = opts.ids ?? [1, 2, 3];
  segment(0xc2, [8, height >> 8, height & 255, width >> 8, width & 255, nc, ...comps.flatMap((c, i) => [ids[i]!, (c.h << 4) | c.v, c.tq])]);
  segment(0xc4, [0x00, ...DC_BITS, ...DC_VALS, 0x10, ...AC_BITS, ...AC_VALS]);
  const ri = opts.restartInterval ?? 0;
  if (ri) segment(0xdd, [ri >> 8, ri & 255]);

  for (const scan of opts.script ?? standardScript(nc)) {
    const sc = scan.comps.map((i) => comps[i]!);
    segment(0xda, [sc.length, ...scan.comps.flatMap((i) => [ids[i]!, 0x00]), scan.ss, scan.se, (scan.ah << 4) | scan.al]);
    const bits = new Bits();
    const pred = new Array(sc.length).fill(0);
    const units: { c: (typeof comps)[number]; i: number; bx: number; by: number }[][] = [];
    if (sc.length === 1) {
      const c = sc[0]!;
      const wb = Math.ceil((width * c.h) / (8 * hMax));
      const hb = Math.ceil((height * c.v) / (8 * vMax));
      for (let by = 0; by < hb; by++) for (let bx = 0; bx < wb; bx++) units.push([{ c, i: 0, bx, by }]);
    } else {
      for (let my = 0; my < mcuRows; my++) {
        for (let mx = 0; mx < mcuCols; mx++) {
          const mcu: (typeof units)[number] = [];
          sc.forEach((c, i) => {
            for (let y = 0; y < c.v; y++) for (let x = 0; x < c.h; x++) mcu.push({ c, i, bx: mx * c.h + x, by: my * c.v + y });
          });
          units.push(mcu);
        }
      }
    }
    let rst = 0;
    units.forEach((mcu, m) => {
      if (ri && m > 0 && m % ri === 0) {
        bits.flush();
        bits.bytes.push(0xff, 0xd0 + rst);
        rst = (rst + 1) & 7;
        pred.fill(0);
      }
      for (const { c, i, bx, by } of mcu) {
        const o = (by * c.bw + bx) * 64;
        if (scan.ss === 0) {
          const dc = c.coefs[o]! >> scan.al;
          if (scan.ah === 0) {
            const diff = dc - pred[i];
            pred[i] = dc;
            const s = category(diff);
            const [code, len] = DC_CODES.get(s)!;
            bits.put(code, len);
            if (s) bits.put(extraBits(diff, s), s);
          } else bits.put(dc & 1, 1);
          continue;
        }
        if (scan.ah !== 0) throw new Error("encodeProgressive: no AC refinement scans");
        let run = 0;
        for (let k = scan.ss; k <= scan.se; k++) {
          const raw = c.coefs[o + ZIGZAG[k]!]!;
          const v = raw < 0 ? -(-raw >> scan.al) : raw >> scan.al;
          if (v === 0) {
            run++;
            continue;
          }
          while (run > 15) {
            const [code, len] = AC_CODES.get(0xf0)!;
            bits.put(code, len);
            run -= 16;
          }
          const s = category(v);
          const [code, len] = AC_CODES.get((run << 4) | s)!;
          bits.put(code, len);
          bits.put(extraBits(v, s), s);
          run = 0;
        }
        if (run > 0) {
          const [code, len] = AC_CODES.get(0x00)!;
          bits.put(code, len);
        }
      }
    });
    bits.flush();
    for (const byte of bits.bytes) out.push(byte);
  }
  out.push(0xff, 0xd9);
  return new Uint8Array(out);
}

const COS = (() => {
  const t = new Float64Array(64);
  for (let x = 0; x < 8; x++) for (let u = 0; u < 8; u++) t[x * 8 + u] = Math.cos(((2 * x + 1) * u * Math.PI) / 16);
  return t;
})();
