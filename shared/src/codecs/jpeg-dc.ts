import { ImageError } from "../errors.ts";
import type { RawImage } from "../image.ts";

/**
 * DC-only decoder for progressive JPEGs (SOF2, Huffman, 8-bit, 1 or 3 components), for shrink-on-load at 1/8.
 *
 * At 1/8 libjpeg turns each 8x8 block into one pixel from its DC coefficient alone (jpeg_idct_1x1), yet for a
 * progressive file it must first keep every coefficient of the image (~3 bytes per pixel for 4:2:0). This
 * decoder keeps one Int16 per block: it decodes the DC scans (first and refinement, interleaved or not, with
 * restart intervals), reads the headers of the AC scans and skips their data, and then does what libjpeg-turbo
 * 2.1.5 does at scale 1/8 (decode.c's settings: ISLOW, fancy upsampling requested, RGB or RGBA out):
 * - a component whose IDCT is 1x1 (the luma, and every component of a 4:4:4, 4:2:2 or 4:4:0 file): exactly
 *   libjpeg's `(DC*Q + 4) >> 3` + 128 through its range-limit table, then the plain replicating upsampler
 *   (libjpeg does no fancy upsampling when the smallest IDCT is 1x1);
 * - a component libjpeg scales up with a 2x2 IDCT (4:2:0 chroma, which reads its AC coefficients 1, 3, 5, 7):
 *   the AC coefficients that IDCT reads are estimated from the neighbouring DCs with libjpeg's own block
 *   smoothing formulas, then libjpeg's 2x2 IDCT runs: an approximation (bench/jpeg/dc-fidelity.ts measures it),
 *   exact where libjpeg itself has no AC data for the component;
 * - libjpeg's block smoothing when its rules turn it on (a component with no AC scan at all, e.g. a file cut
 *   after its DC scans: libjpeg then interpolates the DC from the 5x5 neighbouring blocks), and its fixed-point
 *   YCbCr->RGB tables; Adobe APP14 transform 0 (no JFIF APP0) means RGB, as in libjpeg.
 * Damage that libjpeg reports as a warning after which pixels are invented (data cut short inside a DC scan,
 * a bad Huffman code, a wrong restart marker) and what it refuses (missing or bad tables, bad scan
 * parameters, unknown markers, a second frame) are `corrupt_image`. AC scan data is not read, so damage
 * inside it goes unnoticed (the 1/8 output does not depend on it); a file cut inside an AC scan decodes.
 * Memory: one Int16 per block and component (a 12 MP 4:2:0 photo: ~0.6 MB) plus the output; no wasm.
 */

/** How 4:2:0-style chroma (libjpeg: 2x2 IDCT) is estimated from the DC coefficients alone. */
export type DcChroma = "replicate" | "triangle" | "smooth";

export interface DcDecodeOptions {
  /** 3 RGB, 4 RGBA (alpha 255). */
  channels: 3 | 4;
  /** More scans than this are refused (corrupt_image), as libjpeg's progress monitor does. */
  maxScans: number;
  /** Default "smooth", measured closest to libjpeg (bench/jpeg/dc-fidelity.ts); the others are for that comparison. */
  chroma?: DcChroma;
}

export interface DcDecodeResult {
  image: RawImage;
  /** libjpeg's warnings this file would raise that the header walk does not report itself (first 8). */
  warnings: string[];
  warningCount: number;
  scans: number;
}

/** Whether `decodeJpegDc` reads this frame (its caller also needs the 1/8 scale). */
export function isDcDecodable(h: { process: string; arithmetic: boolean; hierarchical: boolean; precision: number; components: number }): boolean {
  return h.process === "progressive" && !h.arithmetic && !h.hierarchical && h.precision === 8 && (h.components === 1 || h.components === 3);
}

const damaged = (what: string, detail: Record<string, unknown> = {}): ImageError =>
  new ImageError("corrupt_image", `the JPEG is damaged or truncated and could not be decoded (${what}); send the complete, unmodified file`, { format: "jpeg", ...detail });

const hex2 = (m: number): string => m.toString(16).padStart(2, "0");

interface Huff {
  maxcode: Int32Array; // [18], -1 where no code of that length; [17] sentinel
  valoffset: Int32Array;
  vals: Uint8Array;
  /** Indexed by the next LOOKAHEAD bits: (code length << 8) | symbol for codes that short, else 0. */
  look: Int32Array;
}

const LOOKAHEAD = 9;

interface Table {
  bits: Uint8Array; // [17], bits[0] unused
  vals: Uint8Array; // [256]
}

interface Component {
  id: number;
  h: number;
  v: number;
  tq: number;
  /** Quantisation table latched at the component's first scan (zigzag order), as libjpeg does. */
  quant: Uint16Array | null;
  widthInBlocks: number;
  heightInBlocks: number;
  /** Blocks per row and rows of `dc`, padded to whole MCUs (interleaved scans code the padding blocks). */
  stride: number;
  rows: number;
  dc: Int16Array;
  /** libjpeg's coef_bits for this component: the Al of the last scan of each coefficient, -1 before any. */
  coefBits: Int8Array;
}

/** jdhuff.c jpeg_make_d_derived_tbl's checks and the bit-serial decoding tables (Figure F.15). */
function derive(t: Table | null, isDc: boolean, index: number): Huff {
  if (!t) throw damaged(`Huffman table 0x${hex2(index)} was not defined`, { decoder: "JERR_NO_HUFF_TABLE" });
  const sizes: number[] = [];
  for (let l = 1; l <= 16; l++) {
    const n = t.bits[l]!;
    if (sizes.length + n > 256) throw damaged("Bogus Huffman table definition", { decoder: "JERR_BAD_HUFF_TABLE" });
    for (let i = 0; i < n; i++) sizes.push(l);
  }
  const codes = new Int32Array(sizes.length);
  let code = 0;
  let si = sizes[0] ?? 0;
  for (let p = 0; p < sizes.length; ) {
    while (p < sizes.length && sizes[p] === si) codes[p++] = code++;
    if (code >= 1 << si) throw damaged("Bogus Huffman table definition", { decoder: "JERR_BAD_HUFF_TABLE" });
    code <<= 1;
    si++;
  }
  const maxcode = new Int32Array(18);
  const valoffset = new Int32Array(18);
  for (let l = 1, p = 0; l <= 16; l++) {
    if (t.bits[l]) {
      valoffset[l] = p - codes[p]!;
      p += t.bits[l]!;
      maxcode[l] = codes[p - 1]!;
    } else maxcode[l] = -1;
  }
  maxcode[17] = 0xfffff;
  if (isDc) for (let i = 0; i < sizes.length; i++) if (t.vals[i]! > 15) throw damaged("Bogus Huffman table definition", { decoder: "JERR_BAD_HUFF_TABLE" });
  const look = new Int32Array(1 << LOOKAHEAD);
  for (let p = 0; p < sizes.length && sizes[p]! <= LOOKAHEAD; p++) {
    const l = sizes[p]!;
    const first = codes[p]! << (LOOKAHEAD - l);
    for (let i = 0; i < 1 << (LOOKAHEAD - l); i++) look[first + i] = (l << 8) | t.vals[p]!;
  }
  return { maxcode, valoffset, vals: t.vals, look };
}

/** Natural-order position -> zigzag index, for the quantisation values the smoothing and 2x2 IDCT read. */
const ZZ = { q00: 0, q01: 1, q10: 2, q20: 3, q11: 4, q02: 5, q03: 6, q12: 7, q21: 8, q30: 9 } as const;

/** libjpeg's IDCT output range limit: `range_limit[x & 1023]` with its table layout (jdmaster.c). */
function idctLimit(x: number): number {
  const i = x & 1023;
  return i < 128 ? i + 128 : i < 512 ? 255 : i < 896 ? 0 : i - 896;
}

/**
 * The bits of one scan's entropy-coded segment, read as libjpeg's jdhuff.c does: 0xFF 0x00 is a 0xFF data
 * byte, 0xFF fill bytes are swallowed, any other 0xFF xx ends the data. Past the end it reads zero bits
 * without complaint until one is consumed: consuming a bit past the end is libjpeg's JWRN_HIT_MARKER
 * ("premature end of data segment"), after which it would invent pixels; here an error.
 */
class BitReader {
  pos: number;
  /** The last `n` bits read, in the low bits; the last `pad` of them are zeros past the end of the data. */
  private acc = 0;
  private n = 0;
  private pad = 0;
  private ended = false;
  constructor(
    private readonly b: Uint8Array,
    start: number,
  ) {
    this.pos = start;
  }

  /** Make at least `k` (<= 24) bits available. */
  private ensure(k: number): void {
    const b = this.b;
    while (this.n < k) {
      let c = 0;
      if (!this.ended) {
        const p = this.pos;
        if (p >= b.length) this.ended = true;
        else {
          c = b[p]!;
          if (c !== 0xff) this.pos = p + 1;
          else {
            let m = p + 1;
            while (m < b.length && b[m] === 0xff) m++;
            if (m < b.length && b[m] === 0) this.pos = m + 1;
            else {
              this.ended = true; // a marker (or the end of the file): stay before it
              c = 0;
            }
          }
        }
      }
      if (this.ended) this.pad += 8;
      this.acc = (this.acc << 8) | c;
      this.n += 8;
    }
  }

  private consume(k: number): void {
    if (k > this.n - this.pad) throw damaged("Corrupt JPEG data: premature end of data segment", { decoder: "JWRN_HIT_MARKER" });
    this.n -= k;
  }

  bit(): number {
    this.ensure(1);
    const v = (this.acc >>> (this.n - 1)) & 1;
    this.consume(1);
    return v;
  }

  bits(count: number): number {
    if (count === 0) return 0;
    this.ensure(count);
    const v = (this.acc >>> (this.n - count)) & ((1 << count) - 1);
    this.consume(count);
    return v;
  }

  /** jpeg_huff_decode with a 9-bit lookahead: a code longer than 16 bits is JWRN_HUFF_BAD_CODE (an error here). */
  decode(h: Huff): number {
    this.ensure(16);
    const entry = h.look[(this.acc >>> (this.n - LOOKAHEAD)) & ((1 << LOOKAHEAD) - 1)]!;
    if (entry !== 0) {
      this.consume(entry >> 8);
      return entry & 255;
    }
    const word = (this.acc >>> (this.n - 16)) & 0xffff;
    for (let l = LOOKAHEAD + 1; l <= 16; l++) {
      const code = word >>> (16 - l);
      if (code <= h.maxcode[l]!) {
        this.consume(l);
        return h.vals[code + h.valoffset[l]!]!;
      }
    }
    this.consume(Math.min(17, this.n)); // libjpeg reads a 17th bit before it gives up
    throw damaged("Corrupt JPEG data: bad Huffman code", { decoder: "JWRN_HUFF_BAD_CODE" });
  }

  /** Drop the bits read ahead (before a restart marker: libjpeg counts whole bytes among the discarded ones). */
  align(): void {
    this.n = 0;
    this.pad = 0;
    this.ended = false;
  }
}

/**
 * libjpeg's next_marker(): from `at`, skip anything that is not 0xFF (libjpeg warns: extraneous data), 0xFF
 * fill and 0xFF 0x00 pairs. Returns the offset of the marker's 0xFF, or -1 at the end of the data (where
 * libjpeg's source inserts a fake EOI).
 */
function nextMarker(b: Uint8Array, at: number): number {
  for (;;) {
    const ff = b.indexOf(0xff, at);
    if (ff < 0) return -1;
    let m = ff + 1;
    while (m < b.length && b[m] === 0xff) m++;
    if (m >= b.length) return -1;
    if (b[m] !== 0) return m - 1;
    at = m + 1;
  }
}

/** The end of an AC scan's data we do not decode: the next marker that is neither stuffing nor RSTn. */
function skipEntropy(b: Uint8Array, at: number): number {
  for (;;) {
    const m = nextMarker(b, at);
    if (m < 0) return -1;
    const code = b[m + 1]!;
    if (code >= 0xd0 && code <= 0xd7) {
      at = m + 2;
      continue;
    }
    return m;
  }
}

/** The bytes from `start` as libjpeg's source (decode.c) delivers them past the end of the file: 0xFF 0xD9 pairs. */
function padded(b: Uint8Array, start: number): Uint8Array {
  const real = b.subarray(Math.min(start, b.length));
  const out = new Uint8Array(real.length + 65536 + 256);
  out.set(real);
  for (let i = real.length; i < out.length; i += 2) {
    out[i] = 0xff;
    out[i + 1] = 0xd9;
  }
  return out;
}

const MESSAGE = {
  bogus: (ci: number, k: number) => `Inconsistent progression sequence for component ${ci} coefficient ${k}`,
  adobe: (t: number) => `Unknown Adobe color transform code ${t}`,
  jfif: (major: number, minor: number) => `Warning: unknown JFIF revision number ${major}.${String(minor).padStart(2, "0")}`,
};

const MAX_MESSAGES = 8;

/** Decode a progressive JPEG at 1/8 from its DC coefficients. Size: ceil(width/8) x ceil(height/8). */
export function decodeJpegDc(bytes: Uint8Array, opts: DcDecodeOptions): DcDecodeResult {
  const b = bytes;
  const n = b.length;
  const warnings: string[] = [];
  let warningCount = 0;
  const warn = (m: string): void => {
    warningCount++;
    if (warnings.length < MAX_MESSAGES) warnings.push(m);
  };
  if (n < 4 || b[0] !== 0xff || b[1] !== 0xd8) throw damaged("Not a JPEG file: starts with something other than SOI", { decoder: "JERR_NO_SOI" });

  const quant: (Uint16Array | null)[] = [null, null, null, null];
  const dcTables: (Table | null)[] = [null, null, null, null];
  const acTables: (Table | null)[] = [null, null, null, null];
  let restartInterval = 0;
  let comps: Component[] | null = null;
  let width = 0;
  let height = 0;
  let hMax = 1;
  let vMax = 1;
  let jfif = false;
  let adobe: number | null = null;
  let scans = 0;

  const u16 = (at: number): number => (b[at]! << 8) | b[at + 1]!;

  let at = 2;
  for (;;) {
    const m = nextMarker(b, at);
    if (m < 0) break; // libjpeg: fake EOI at the end of the data ("Premature end of JPEG file": the header walk says so)
    const code = b[m + 1]!;
    at = m + 2;
    if (code === 0xd9) break;
    if (code === 0xd8) throw damaged("Invalid JPEG file structure: two SOI markers", { decoder: "JERR_SOI_DUPLICATE" });
    if ((code >= 0xd0 && code <= 0xd7) || code === 0x01) continue; // RSTn, TEM: no parameters
    // A segment cut off by the end of the file: libjpeg's source then feeds it "0xFF 0xD9" pairs, parses
    // them as parameters and stops at that fake EOI. `seg` gives the bytes libjpeg sees (real, then fake).
    const cut = m + 4 > n || m + 2 + u16(m + 2) > n;
    const seg = cut ? padded(b, m + 2) : b;
    const base = cut ? -(m + 2) : 0; // offset of the file's byte 0 in `seg`
    const length = (seg[m + 2 + base]! << 8) | seg[m + 3 + base]!;
    const body = m + 4 + base;
    const end = m + 2 + length;
    if (cut && (code >= 0xe0 || code === 0xfe || code === 0xdc || code === 0xcc)) break; // APPn, COM, DNL, DAC: skipped, then the fake EOI
    if (cut && code === 0xda) throw damaged("the scan header is cut off by the end of the file", { decoder: "JERR_BAD_LENGTH" });
    if (code === 0xc4) {
      // DHT
      let p = body;
      let left = length - 2;
      while (left > 16) {
        const index = seg[p]!;
        const bits = new Uint8Array(17);
        let count = 0;
        for (let i = 1; i <= 16; i++) count += bits[i] = seg[p + i]!;
        left -= 17;
        if (count > 256 || count > left) throw damaged("Bogus Huffman table definition", { decoder: "JERR_BAD_HUFF_TABLE" });
        const vals = new Uint8Array(256);
        vals.set(seg.subarray(p + 17, p + 17 + count));
        left -= count;
        p += 17 + count;
        const id = index & 0x10 ? index - 0x10 : index;
        if (id >= 4) throw damaged(`Bogus DHT index ${id}`, { decoder: "JERR_DHT_INDEX" });
        (index & 0x10 ? acTables : dcTables)[id] = { bits, vals };
      }
      if (left !== 0) throw damaged("Bogus marker length", { decoder: "JERR_BAD_LENGTH" });
    } else if (code === 0xdb) {
      // DQT: 64 values in zigzag order, 8 or 16 bits
      let p = body;
      let left = length - 2;
      while (left > 0) {
        const prec = seg[p]! >> 4;
        const id = seg[p]! & 15;
        if (id >= 4) throw damaged(`Bogus DQT index ${id}`, { decoder: "JERR_DQT_INDEX" });
        const need = prec ? 129 : 65;
        if (p + need > seg.length) throw damaged("Bogus marker length", { decoder: "JERR_BAD_LENGTH" });
        const q = new Uint16Array(64);
        for (let i = 0; i < 64; i++) q[i] = prec ? (seg[p + 1 + 2 * i]! << 8) | seg[p + 2 + 2 * i]! : seg[p + 1 + i]!;
        quant[id] = q;
        p += need;
        left -= need;
      }
      if (left !== 0) throw damaged("Bogus marker length", { decoder: "JERR_BAD_LENGTH" });
    } else if (code === 0xdd) {
      if (length !== 4) throw damaged("Bogus marker length", { decoder: "JERR_BAD_LENGTH" });
      restartInterval = (seg[body]! << 8) | seg[body + 1]!;
    } else if (code === 0xe0) {
      if (length - 2 >= 14 && b[body] === 0x4a && b[body + 1] === 0x46 && b[body + 2] === 0x49 && b[body + 3] === 0x46 && b[body + 4] === 0) {
        if (!comps) jfif = true;
        if (b[body + 5] !== 1) warn(MESSAGE.jfif(b[body + 5]!, b[body + 6]!));
      }
    } else if (code === 0xee) {
      if (!comps && length - 2 >= 12 && b[body] === 0x41 && b[body + 1] === 0x64 && b[body + 2] === 0x6f && b[body + 3] === 0x62 && b[body + 4] === 0x65) adobe = b[body + 11]!;
    } else if ((code >= 0xe1 && code <= 0xef) || code === 0xfe || code === 0xdc || code === 0xcc) {
      // other APPn, COM, DNL, DAC: skipped
    } else if (code === 0xc2) {
      if (comps) throw damaged("Invalid JPEG file structure: two SOF markers", { decoder: "JERR_SOF_DUPLICATE" });
      const nf = b[body + 5]!;
      height = u16(body + 1);
      width = u16(body + 3);
      if (b[body] !== 8) throw damaged(`Unsupported JPEG data precision ${b[body]}`, { decoder: "JERR_BAD_PRECISION" });
      if (width === 0 || height === 0 || nf === 0) throw damaged("Empty JPEG image (DNL not supported)", { decoder: "JERR_EMPTY_IMAGE" });
      if (length - 8 !== nf * 3) throw damaged("Bogus marker length", { decoder: "JERR_BAD_LENGTH" });
      const list: Component[] = [];
      for (let i = 0; i < nf; i++) {
        const s = b[body + 7 + 3 * i]!;
        list.push({ id: b[body + 6 + 3 * i]!, h: s >> 4, v: s & 15, tq: b[body + 8 + 3 * i]!, quant: null, widthInBlocks: 0, heightInBlocks: 0, stride: 0, rows: 0, dc: new Int16Array(0), coefBits: new Int8Array(64).fill(-1) });
      }
      if (nf !== 1 && nf !== 3) throw damaged(`${nf} color components`, { decoder: "JERR_COMPONENT_COUNT" });
      for (const c of list) {
        if (c.h < 1 || c.h > 4 || c.v < 1 || c.v > 4) throw damaged("Bogus sampling factors", { decoder: "JERR_BAD_SAMPLING" });
      }
      hMax = Math.max(...list.map((c) => c.h));
      vMax = Math.max(...list.map((c) => c.v));
      const mcuCols = Math.ceil(width / (8 * hMax));
      const mcuRows = Math.ceil(height / (8 * vMax));
      for (const c of list) {
        c.widthInBlocks = Math.ceil((width * c.h) / (8 * hMax));
        c.heightInBlocks = Math.ceil((height * c.v) / (8 * vMax));
        c.stride = mcuCols * c.h;
        c.rows = mcuRows * c.v;
        c.dc = new Int16Array(c.stride * c.rows);
      }
      comps = list;
    } else if (code >= 0xc0 && code <= 0xcf) {
      // any other SOFn (the header walk has already refused a second frame before the first scan)
      throw damaged(comps ? "Invalid JPEG file structure: two SOF markers" : `Unsupported marker type 0x${hex2(code)}`, { decoder: "JERR_SOF_DUPLICATE" });
    } else if (code === 0xda) {
      if (!comps) throw damaged("Invalid JPEG file structure: SOS before SOF", { decoder: "JERR_SOS_NO_SOF" });
      scans++;
      if (scans > opts.maxScans) {
        throw new ImageError("corrupt_image", `the JPEG has more than ${opts.maxScans} scans, more than any real encoder writes: re-save it as a standard JPEG`, { format: "jpeg", maxScans: opts.maxScans });
      }
      at = scan(m, body, length);
      if (at < 0) break; // the data of an AC scan runs to the end of the file
      continue;
    } else {
      throw damaged(`Unsupported marker type 0x${hex2(code)}`, { decoder: "JERR_UNKNOWN_MARKER" });
    }
    at = end;
  }
  if (!comps) throw damaged("the file ends before its frame header", { decoder: "JERR_NO_IMAGE" });

  /** One SOS: parse it as get_sos + start_pass_phuff_decoder do, decode a DC scan, skip an AC scan. Returns where to look for the next marker. */
  function scan(sos: number, body: number, length: number): number {
    const frame = comps!;
    const ns = b[body]!;
    if (length !== ns * 2 + 6 || ns < 1 || ns > 4) throw damaged("Bogus marker length", { decoder: "JERR_BAD_LENGTH" });
    const inScan: Component[] = [];
    const cur: (Component | null)[] = [null, null, null, null];
    const tables: { dc: number; ac: number }[] = [];
    for (let i = 0; i < ns; i++) {
      const cc = b[body + 1 + 2 * i]!;
      const t = b[body + 2 + 2 * i]!;
      let found = -1;
      for (let ci = 0; ci < frame.length && ci < 4; ci++) {
        if (frame[ci]!.id === cc && !cur[ci]) {
          found = ci;
          break;
        }
      }
      if (found < 0) throw damaged(`Invalid component ID ${cc} in SOS`, { decoder: "JERR_BAD_COMPONENT_ID" });
      const c = frame[found]!;
      cur[i] = c;
      for (let pi = 0; pi < i; pi++) if (cur[pi] === c) throw damaged(`Invalid component ID ${cc} in SOS`, { decoder: "JERR_BAD_COMPONENT_ID" });
      inScan.push(c);
      tables.push({ dc: t >> 4, ac: t & 15 });
    }
    const ss = b[body + 1 + 2 * ns]!;
    const se = b[body + 2 + 2 * ns]!;
    const ah = b[body + 3 + 2 * ns]! >> 4;
    const al = b[body + 3 + 2 * ns]! & 15;
    const dcBand = ss === 0;
    const bad = (dcBand ? se !== 0 : ss > se || se >= 64 || ns !== 1) || (ah !== 0 && al !== ah - 1) || al > 13;
    if (bad) throw damaged(`Invalid progressive parameters Ss=${ss} Se=${se} Ah=${ah} Al=${al}`, { decoder: "JERR_BAD_PROGRESSION" });
    // latch_quant_tables: the table in effect at each component's first scan
    for (const c of inScan) {
      if (c.quant) continue;
      const q = c.tq < 4 ? quant[c.tq] : null;
      if (!q) throw damaged(`Quantization table 0x${hex2(c.tq)} was not defined`, { decoder: "JERR_NO_QUANT_TABLE" });
      c.quant = q.slice();
    }
    // the progression bookkeeping libjpeg warns about (and the block smoothing reads)
    let bogusDc = dcBand;
    for (const c of inScan) {
      const ci = frame.indexOf(c);
      if (!dcBand && c.coefBits[0]! < 0) warn(MESSAGE.bogus(ci, 0));
      for (let k = ss; k <= se; k++) {
        const expected = c.coefBits[k]! < 0 ? 0 : c.coefBits[k]!;
        if (ah !== expected) warn(MESSAGE.bogus(ci, k));
        else if (k === 0) bogusDc = false;
        c.coefBits[k] = al;
      }
    }
    const huff: Huff[] = inScan.map((c, i) => (dcBand ? (ah === 0 ? derive(dcTables[tables[i]!.dc]!, true, tables[i]!.dc) : null) : derive(acTables[tables[i]!.ac]!, false, tables[i]!.ac))) as Huff[];
    const dataStart = sos + 2 + length;
    // A DC scan out of sequence for every component it holds (one that repeats a bit already read, the way a
    // "refinement bomb" copies one scan up to the scan-pass limit) is skipped after libjpeg's warning: it can
    // only re-read bits, and a real encoder never writes one. libjpeg decodes it; for a repeated scan with
    // the same data the output is the same (a refinement ORs the same bit, a first scan writes the same values).
    if (!dcBand || bogusDc) return skipEntropy(b, dataStart);

    // per_scan_setup: MCU geometry
    let mcuCols: number;
    let mcuRows: number;
    const blocks: { c: Component; i: number; dx: number; dy: number }[] = [];
    if (ns === 1) {
      const c = inScan[0]!;
      mcuCols = c.widthInBlocks;
      mcuRows = c.heightInBlocks;
      blocks.push({ c, i: 0, dx: 0, dy: 0 });
    } else {
      mcuCols = Math.ceil(width / (8 * hMax));
      mcuRows = Math.ceil(height / (8 * vMax));
      inScan.forEach((c, i) => {
        for (let y = 0; y < c.v; y++) for (let x = 0; x < c.h; x++) blocks.push({ c, i, dx: x, dy: y });
      });
      if (blocks.length > 10) throw damaged("Sampling factors too large for interleaved scan", { decoder: "JERR_BAD_MCU_SIZE" });
    }
    const bits = new BitReader(b, dataStart);
    const lastDc = new Float64Array(ns);
    let restartsToGo = restartInterval;
    let nextRestart = 0;
    const p1 = 1 << al;
    const total = mcuCols * mcuRows;
    // each block of an MCU, flattened: its component's array and where the block sits in it
    const nb = blocks.length;
    const arrays = blocks.map((x) => x.c.dc);
    const strides = Int32Array.from(blocks, (x) => x.c.stride);
    const vMul = Int32Array.from(blocks, (x) => (ns === 1 ? 1 : x.c.v));
    const hMul = Int32Array.from(blocks, (x) => (ns === 1 ? 1 : x.c.h));
    const dys = Int32Array.from(blocks, (x) => x.dy);
    const dxs = Int32Array.from(blocks, (x) => x.dx);
    const which = Int32Array.from(blocks, (x) => x.i);
    const huffOf = blocks.map((x) => huff[x.i]!);
    let row = 0;
    let col = 0;
    /** process_restart: drop the read-ahead, expect RSTn (libjpeg resyncs with JWRN_MUST_RESYNC: invented pixels). */
    const restart = (): void => {
      bits.align();
      const mk = nextMarker(b, bits.pos);
      const found = mk < 0 ? 0xd9 : b[mk + 1]!;
      if (found !== 0xd0 + nextRestart) throw damaged(`Corrupt JPEG data: found marker 0x${hex2(found)} instead of RST${nextRestart}`, { decoder: "JWRN_MUST_RESYNC" });
      bits.pos = mk + 2;
      nextRestart = (nextRestart + 1) & 7;
      lastDc.fill(0);
      restartsToGo = restartInterval;
    };
    if (ah === 0) {
      for (let mcu = 0; mcu < total; mcu++) {
        if (restartInterval) {
          if (restartsToGo === 0) restart();
          restartsToGo--;
        }
        for (let k = 0; k < nb; k++) {
          const s = bits.decode(huffOf[k]!);
          let diff = 0;
          if (s) {
            const r = bits.bits(s);
            diff = r < 1 << (s - 1) ? r - (1 << s) + 1 : r;
          }
          const i = which[k]!;
          const last = lastDc[i]!;
          if ((last >= 0 && diff > 0x7fffffff - last) || (last < 0 && diff < -0x80000000 - last)) throw damaged("DCT coefficient out of range", { decoder: "JERR_BAD_DCT_COEF" });
          const v = last + diff;
          lastDc[i] = v;
          arrays[k]![(row * vMul[k]! + dys[k]!) * strides[k]! + col * hMul[k]! + dxs[k]!] = v << al; // JCOEF: int16, as libjpeg stores it
        }
        if (++col === mcuCols) {
          col = 0;
          row++;
        }
      }
    } else {
      // refinement: the next bit of each block's DC, one per block; read up to 16 at a time (whole MCUs)
      const perRead = Math.max(1, Math.floor(16 / nb));
      const at = new Int32Array(nb); // each block's index in its component's array, for the current MCU
      const place = (): void => {
        for (let k = 0; k < nb; k++) at[k] = (row * vMul[k]! + dys[k]!) * strides[k]! + col * hMul[k]! + dxs[k]!;
      };
      place();
      for (let mcu = 0; mcu < total; ) {
        let run = total - mcu;
        if (restartInterval) {
          if (restartsToGo === 0) restart();
          run = Math.min(run, restartsToGo);
          restartsToGo -= run;
        }
        for (let done = 0; done < run; ) {
          const m = Math.min(perRead, run - done);
          const word = bits.bits(m * nb);
          let bit = m * nb;
          for (let j = 0; j < m; j++) {
            for (let k = 0; k < nb; k++) {
              bit--;
              if ((word >>> bit) & 1) {
                const arr = arrays[k]!;
                arr[at[k]!] = arr[at[k]!]! | p1;
              }
            }
            if (++col === mcuCols) {
              col = 0;
              row++;
              place();
            } else for (let k = 0; k < nb; k++) at[k] = at[k]! + hMul[k]!;
          }
          done += m;
        }
        mcu += run;
      }
    }
    return bits.pos;
  }

  // ---- output: libjpeg at scale 1/8 ----
  const frame = comps;
  const outW = Math.ceil(width / 8);
  const outH = Math.ceil(height / 8);
  const chroma = opts.chroma ?? "smooth";
  const smoothing = smoothingOn(frame);
  const planes = frame.map((c) => componentPlane(c, smoothing, chroma, height, hMax, vMax, outW, outH));
  const ch = opts.channels;
  const data = new Uint8Array(outW * outH * ch);
  let space: "gray" | "ycc" | "rgb" = "gray";
  if (frame.length === 3) {
    if (jfif) space = "ycc";
    else if (adobe !== null) {
      if (adobe === 0) space = "rgb";
      else {
        if (adobe !== 1) warn(MESSAGE.adobe(adobe));
        space = "ycc";
      }
    } else space = frame[0]!.id === 82 && frame[1]!.id === 71 && frame[2]!.id === 66 ? "rgb" : "ycc";
  }
  const pixels = outW * outH;
  if (space === "gray") {
    const y = planes[0]!;
    for (let i = 0, o = 0; i < pixels; i++, o += ch) {
      data[o] = data[o + 1] = data[o + 2] = y[i]!;
      if (ch === 4) data[o + 3] = 255;
    }
  } else if (space === "rgb") {
    const [r, g, bl] = planes as [Uint8Array, Uint8Array, Uint8Array];
    for (let i = 0, o = 0; i < pixels; i++, o += ch) {
      data[o] = r[i]!;
      data[o + 1] = g[i]!;
      data[o + 2] = bl[i]!;
      if (ch === 4) data[o + 3] = 255;
    }
  } else {
    const [y, cb, cr] = planes as [Uint8Array, Uint8Array, Uint8Array];
    const t = yccTables();
    const clamp = (x: number): number => (x < 0 ? 0 : x > 255 ? 255 : x);
    for (let i = 0, o = 0; i < pixels; i++, o += ch) {
      const Y = y[i]!;
      const B = cb[i]!;
      const R = cr[i]!;
      data[o] = clamp(Y + t.crR[R]!);
      data[o + 1] = clamp(Y + ((t.cbG[B]! + t.crG[R]!) >> 16));
      data[o + 2] = clamp(Y + t.cbB[B]!);
      if (ch === 4) data[o + 3] = 255;
    }
  }
  return { image: { data, width: outW, height: outH, channels: ch }, warnings, warningCount, scans };
}

/** jdcoefct.c smoothing_ok(): libjpeg-turbo smooths only while some of the first AC coefficients are not fully known. */
function smoothingOn(frame: Component[]): boolean {
  let useful = false;
  for (const c of frame) {
    const q = c.quant;
    if (!q) return false;
    for (let k = 0; k <= 9; k++) if (q[k] === 0) return false;
    if (c.coefBits[0]! < 0) return false;
    for (let k = 1; k <= 9; k++) if (c.coefBits[k] !== 0) useful = true;
  }
  return useful;
}

/** jdcolor.c build_ycc_rgb_table (SCALEBITS 16). */
let ycc: { crR: Int32Array; cbB: Int32Array; crG: Int32Array; cbG: Int32Array } | null = null;
function yccTables(): NonNullable<typeof ycc> {
  if (ycc) return ycc;
  const FIX = (x: number): number => Math.floor(x * 65536 + 0.5);
  const crR = new Int32Array(256);
  const cbB = new Int32Array(256);
  const crG = new Int32Array(256);
  const cbG = new Int32Array(256);
  for (let i = 0; i < 256; i++) {
    const x = i - 128;
    crR[i] = (FIX(1.402) * x + 32768) >> 16;
    cbB[i] = (FIX(1.772) * x + 32768) >> 16;
    crG[i] = -FIX(0.71414) * x;
    cbG[i] = -FIX(0.34414) * x + 32768;
  }
  return (ycc = { crR, cbB, crG, cbG });
}

/**
 * One component at output size: its IDCT at libjpeg's scaled size (1x1, or 2x2 for 4:2:0-style chroma),
 * after libjpeg's block smoothing where it applies, then libjpeg's replicating upsampler.
 */
function componentPlane(c: Component, smoothing: boolean, chroma: DcChroma, height: number, hMax: number, vMax: number, outW: number, outH: number): Uint8Array {
  // jdmaster.c: the IDCT size libjpeg picks for this component at min_DCT_scaled_size 1
  let ssize = 1;
  while (ssize < 8 && hMax % (c.h * ssize * 2) === 0 && vMax % (c.v * ssize * 2) === 0) ssize *= 2;
  // jdsample.c: integral upsampling only
  const hIn = c.h * ssize;
  const vIn = c.v * ssize;
  if (hMax % hIn !== 0 || vMax % vIn !== 0) throw damaged("Fractional sampling not implemented yet", { decoder: "JERR_FRACT_SAMPLE_NOTIMPL" });
  const ex = hMax / hIn;
  const ey = vMax / vIn;
  const q = c.quant;
  const q00 = q ? q[ZZ.q00]! : 0;
  const wb = c.widthInBlocks;
  const hb = c.heightInBlocks;
  // the DC each block's IDCT sees (libjpeg: dct_table zero when the component was never in a scan)
  let dc: Int16Array | Int32Array = c.dc;
  const changeDc = smoothing && [1, 2, 3, 4, 5, 6, 7, 8, 9].every((k) => c.coefBits[k] === -1);
  if (changeDc) dc = smoothDc(c, vMax, height, q00);
  const out = new Uint8Array(outW * outH);
  if (ssize === 1) {
    // jpeg_idct_1x1, then int_upsample / h2v1 / h2v2 (replication)
    const row = new Uint8Array(wb);
    let prevBy = -1;
    for (let y = 0; y < outH; y++) {
      const by = Math.floor(y / ey);
      if (by !== prevBy) {
        for (let bx = 0; bx < wb; bx++) row[bx] = idctLimit((Math.imul(dc[by * c.stride + bx]!, q00) + 4) >> 3);
        prevBy = by;
      }
      const o = y * outW;
      for (let x = 0; x < outW; x++) out[o + x] = row[Math.floor(x / ex)]!;
    }
    return out;
  }
  // ssize 2 (4:2:0 chroma): libjpeg's jpeg_idct_2x2 needs AC coefficients 1, 3, 5, 7 of each direction
  const samples = sampled2x2(c, dc, changeDc, chroma, wb, hb, vMax, height);
  const sw = wb * 2;
  for (let y = 0; y < outH; y++) {
    const sy = Math.floor(y / ey);
    const o = y * outW;
    for (let x = 0; x < outW; x++) out[o + x] = samples[sy * sw + Math.floor(x / ex)]!;
  }
  return out;
}

/**
 * The rows the block smoothing of libjpeg-turbo 2.1 (decompress_smooth_data) reads around block row `r`,
 * including its quirk: the last iMCU row counts block rows with that row's own (smaller) height, so the rows
 * above the last iMCU row may read the padding row below the image.
 */
function smoothRows(c: Component, vMax: number, height: number, visit: (row: number, prev2: number, prev: number, next: number, next2: number) => void): void {
  const totalImcu = Math.ceil(height / (8 * vMax));
  const last = totalImcu - 1;
  for (let r = 0; r < totalImcu; r++) {
    const blockRows = r < last ? c.v : c.heightInBlocks % c.v || c.v;
    for (let br = 0; br < blockRows; br++) {
      const cur = r * c.v + br;
      const prev = br > 0 || r > 0 ? cur - 1 : cur;
      const prev2 = br > 1 || r > 1 ? cur - 2 : prev;
      const next = br < blockRows - 1 || r < last ? cur + 1 : cur;
      const next2 = br < blockRows - 2 || r + 1 < last ? cur + 2 : next;
      visit(cur, prev2, prev, next, next2);
    }
  }
}

/** The 5x5 neighbourhood of DCs libjpeg's smoothing reads (columns clamped to the component's blocks). */
function neighbourhood(c: Component, rows: [number, number, number, number, number], bx: number, out: Int32Array): void {
  const last = c.widthInBlocks - 1;
  for (let j = 0; j < 5; j++) {
    const base = rows[j]! * c.stride;
    for (let i = 0; i < 5; i++) {
      const x = Math.min(last, Math.max(0, bx + i - 2));
      out[j * 5 + i] = c.dc[base + x]!;
    }
  }
}

/** libjpeg's K.8-style estimate of a coefficient: num / (Q << 8), rounded, in its 32-bit arithmetic. */
function predict(num: number, qk: number, al: number): number {
  let pred: number;
  if (num >= 0) {
    pred = Math.trunc((((qk << 7) + num) | 0) / (qk << 8)) | 0;
    if (al > 0 && pred >= 1 << al) pred = (1 << al) - 1;
  } else {
    pred = Math.trunc((((qk << 7) - num) | 0) / (qk << 8)) | 0;
    if (al > 0 && pred >= 1 << al) pred = (1 << al) - 1;
    pred = -pred;
  }
  return (pred << 16) >> 16; // JCOEF
}

/** decompress_smooth_data's DC estimate (change_dc: the component has no AC data yet). */
function smoothDc(c: Component, vMax: number, height: number, q00: number): Int16Array {
  const out = new Int16Array(c.dc.length);
  const d = new Int32Array(25);
  const W = [-2, -6, -8, -6, -2, -6, 6, 42, 6, -6, -8, 42, 152, 42, -8, -6, 6, 42, 6, -6, -2, -6, -8, -6, -2];
  smoothRows(c, vMax, height, (row, p2, p, nx, n2) => {
    for (let bx = 0; bx < c.widthInBlocks; bx++) {
      neighbourhood(c, [p2, p, row, nx, n2], bx, d);
      let sum = 0;
      for (let k = 0; k < 25; k++) sum += W[k]! * d[k]!;
      out[row * c.stride + bx] = predict(Math.imul(q00, sum | 0), q00, 0);
    }
  });
  return out;
}

/**
 * 4:2:0-style chroma as 2x2 samples per block. "replicate": the DC over all four (what libjpeg outputs where a
 * block has no odd AC coefficients). "triangle": each sample 3/4 its own block's DC and 1/4 the next block's
 * in each direction (exact for a linear gradient: a sample is the mean of a 4x4 quadrant, a quarter of a
 * block from the block's centre). "smooth": libjpeg's own block smoothing (its AC estimates from the 5x5
 * neighbouring DCs) and its 2x2 IDCT. Where libjpeg itself has no AC data for the component (its smoothing
 * then applies), libjpeg's smoothing is what it outputs, so that is used whatever `chroma` says.
 */
function sampled2x2(c: Component, dc: Int16Array | Int32Array, changeDc: boolean, chroma: DcChroma, wb: number, hb: number, vMax: number, height: number): Uint8Array {
  const q = c.quant;
  const sw = wb * 2;
  const out = new Uint8Array(sw * hb * 2);
  const q00 = q ? q[ZZ.q00]! : 0;
  if (changeDc || chroma === "smooth") {
    if (!q) return out.fill(128);
    const block = new Int32Array(64);
    const d = new Int32Array(25);
    const qNatural = new Int32Array(64);
    for (let i = 0; i < 64; i++) qNatural[i] = q[NATURAL_TO_ZZ[i]!]!;
    // coef_bits of the estimated coefficients: in "smooth" mode for a file whose ACs are known, they count as unknown
    const al = [1, 2, 4, 6, 9].map((k) => (changeDc ? c.coefBits[k]! : -1));
    const qk = [q[ZZ.q01]!, q[ZZ.q10]!, q[ZZ.q11]!, q[ZZ.q03]!, q[ZZ.q30]!];
    const est = (i: number, num: number): number => (al[i] !== 0 && qk[i] ? predict(Math.imul(q00, num | 0), qk[i]!, al[i]!) : 0);
    smoothRows(c, vMax, height, (row, p2, p, nx, n2) => {
      const rows: [number, number, number, number, number] = [p2, p, row, nx, n2];
      for (let bx = 0; bx < wb; bx++) {
        neighbourhood(c, rows, bx, d);
        // d[5 * j + i]: DC(row j-2, column i-2) around the block; libjpeg's DC01..DC25 are d[0..24]
        const DC01 = d[0]!, DC02 = d[1]!, DC03 = d[2]!, DC04 = d[3]!, DC05 = d[4]!, DC06 = d[5]!, DC07 = d[6]!, DC08 = d[7]!, DC09 = d[8]!, DC10 = d[9]!, DC11 = d[10]!, DC12 = d[11]!, DC14 = d[13]!, DC15 = d[14]!, DC16 = d[15]!, DC17 = d[16]!, DC18 = d[17]!, DC19 = d[18]!, DC20 = d[19]!, DC21 = d[20]!, DC22 = d[21]!, DC23 = d[22]!, DC24 = d[23]!, DC25 = d[24]!;
        block[0] = dc[row * c.stride + bx]!;
        // the change_dc estimates (jdcoefct.c, no AC data yet) of the coefficients the 2x2 IDCT reads
        block[1] = est(0, -DC01 - DC02 + DC04 + DC05 - 3 * DC06 + 13 * DC07 - 13 * DC09 + 3 * DC10 - 3 * DC11 + 38 * DC12 - 38 * DC14 + 3 * DC15 - 3 * DC16 + 13 * DC17 - 13 * DC19 + 3 * DC20 - DC21 - DC22 + DC24 + DC25);
        block[8] = est(1, -DC01 - 3 * DC02 - 3 * DC03 - 3 * DC04 - DC05 - DC06 + 13 * DC07 + 38 * DC08 + 13 * DC09 - DC10 + DC16 - 13 * DC17 - 38 * DC18 - 13 * DC19 + DC20 + DC21 + 3 * DC22 + 3 * DC23 + 3 * DC24 + DC25);
        block[9] = est(2, -DC01 + DC05 + 9 * DC07 - 9 * DC09 - 9 * DC17 + 9 * DC19 + DC21 - DC25);
        block[3] = est(3, DC07 - DC09 + 2 * DC12 - 2 * DC14 + DC17 - DC19);
        block[24] = est(4, DC07 + 2 * DC08 + DC09 - DC17 - 2 * DC18 - DC19);
        idct2x2(block, qNatural, out, row * 2 * sw + bx * 2, sw);
      }
    });
    return out;
  }
  // DC-derived value of each block, in libjpeg's 2x2 pass-1 units (DC*Q << PASS1_BITS)
  const val = (bx: number, by: number): number => Math.imul(dc[Math.min(by, hb - 1) * c.stride + Math.min(bx, wb - 1)]!, q00);
  for (let by = 0; by < hb; by++) {
    for (let bx = 0; bx < wb; bx++) {
      const v = val(bx, by);
      const o = by * 2 * sw + bx * 2;
      if (chroma === "replicate") {
        const s = idctLimit((((v << 2) + 16) | 0) >> 5);
        out[o] = out[o + 1] = out[o + sw] = out[o + sw + 1] = s;
        continue;
      }
      // triangle: (9 v + 3 h + 3 vert + 1 diag) / 16 toward the neighbours on each sample's side (edges replicate)
      for (let sy = 0; sy < 2; sy++) {
        const ny = sy === 0 ? Math.max(0, by - 1) : by + 1;
        for (let sx = 0; sx < 2; sx++) {
          const nxb = sx === 0 ? Math.max(0, bx - 1) : bx + 1;
          const mix = 9 * v + 3 * val(nxb, by) + 3 * val(bx, ny) + val(nxb, ny);
          out[o + sy * sw + sx] = idctLimit(((mix + 64) | 0) >> 7);
        }
      }
    }
  }
  return out;
}

/** jidctred.c jpeg_idct_2x2 (ISLOW, CONST_BITS 13, PASS1_BITS 2), in 32-bit arithmetic as the wasm build runs it. */
const ws = new Int32Array(16);
/** The columns (and rows) jpeg_idct_2x2 reads: 0 and the odd ones. */
const ODD_COLUMNS = [0, 1, 3, 5, 7] as const;
function idct2x2(block: Int32Array, qn: Int32Array, out: Uint8Array, at: number, stride: number): void {
  for (let k = 0; k < 5; k++) {
    const col = ODD_COLUMNS[k]!;
    const c1 = block[8 + col]!;
    const c3 = block[24 + col]!;
    const c5 = block[40 + col]!;
    const c7 = block[56 + col]!;
    if (c1 === 0 && c3 === 0 && c5 === 0 && c7 === 0) {
      const dcval = Math.imul(block[col]!, qn[col]!) << 2;
      ws[col] = dcval;
      ws[8 + col] = dcval;
      continue;
    }
    const tmp10 = Math.imul(block[col]!, qn[col]!) << 15;
    let tmp0 = Math.imul(Math.imul(c7, qn[56 + col]!), -5906);
    tmp0 = (tmp0 + Math.imul(Math.imul(c5, qn[40 + col]!), 6967)) | 0;
    tmp0 = (tmp0 + Math.imul(Math.imul(c3, qn[24 + col]!), -10426)) | 0;
    tmp0 = (tmp0 + Math.imul(Math.imul(c1, qn[8 + col]!), 29692)) | 0;
    ws[col] = (((tmp10 + tmp0) | 0) + (1 << 12)) >> 13;
    ws[8 + col] = (((tmp10 - tmp0) | 0) + (1 << 12)) >> 13;
  }
  for (let r = 0; r < 2; r++) {
    const w = r * 8;
    const o = at + r * stride;
    if (ws[w + 1] === 0 && ws[w + 3] === 0 && ws[w + 5] === 0 && ws[w + 7] === 0) {
      out[o] = out[o + 1] = idctLimit(((ws[w]! + 16) | 0) >> 5);
      continue;
    }
    const tmp10 = ws[w]! << 15;
    const tmp0 = (Math.imul(ws[w + 7]!, -5906) + Math.imul(ws[w + 5]!, 6967) + Math.imul(ws[w + 3]!, -10426) + Math.imul(ws[w + 1]!, 29692)) | 0;
    out[o] = idctLimit((((tmp10 + tmp0) | 0) + (1 << 19)) >> 20);
    out[o + 1] = idctLimit((((tmp10 - tmp0) | 0) + (1 << 19)) >> 20);
  }
}

/** Natural (row-major) position -> zigzag index. */
const NATURAL_TO_ZZ = (() => {
  const zz = [0, 1, 8, 16, 9, 2, 3, 10, 17, 24, 32, 25, 18, 11, 4, 5, 12, 19, 26, 33, 40, 48, 41, 34, 27, 20, 13, 6, 7, 14, 21, 28, 35, 42, 49, 56, 57, 50, 43, 36, 29, 22, 15, 23, 30, 37, 44, 51, 58, 59, 52, 45, 38, 31, 39, 46, 53, 60, 61, 54, 47, 55, 62, 63];
  const inv = new Uint8Array(64);
  zz.forEach((nat, i) => (inv[nat] = i));
  return inv;
})();
