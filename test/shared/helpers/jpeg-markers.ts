// Byte-level walks of a JPEG for tests and benchmarks that build hostile files from real ones.

/** Offset of the first marker `m` (0xFF m) at or after `from`. */
export function markerAt(b: Uint8Array, m: number, from = 2): number {
  for (let i = from; i + 1 < b.length; i++) if (b[i] === 0xff && b[i + 1] === m) return i;
  throw new Error(`no marker 0xFF${m.toString(16)}`);
}

/**
 * Each scan of a progressive JPEG with the table segments just before it: [start, end) runs from the end
 * of the previous scan's data to the end of this scan's data, so a unit can be repeated as a whole.
 * `components` are the scan's component ids.
 */
export function scanUnits(b: Uint8Array): { start: number; end: number; components: number[] }[] {
  const markers: number[] = [];
  let at = markerAt(b, 0xda);
  for (;;) {
    markers.push(at);
    const m = b[at + 1]!;
    if (m === 0xd9) break;
    let next = at + 2 + ((b[at + 2]! << 8) | b[at + 3]!);
    if (m === 0xda) {
      next = b.indexOf(0xff, next);
      while (b[next + 1] === 0 || (b[next + 1]! >= 0xd0 && b[next + 1]! <= 0xd7)) next = b.indexOf(0xff, next + 2);
    }
    at = next;
  }
  const units = [];
  let start = markers[0]!;
  for (let i = 0; i < markers.length - 1; i++) {
    const p = markers[i]!;
    if (b[p + 1] !== 0xda) continue;
    const components = Array.from({ length: b[p + 4]! }, (_, k) => b[p + 5 + 2 * k]!);
    units.push({ start, end: markers[i + 1]!, components });
    start = markers[i + 1]!;
  }
  return units;
}
