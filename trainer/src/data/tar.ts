import { createReadStream } from "node:fs";
import { mkdir, writeFile } from "node:fs/promises";
import { dirname, isAbsolute, join, normalize, sep } from "node:path";
import { createGunzip } from "node:zlib";
import { DataError } from "./errors.ts";

/**
 * Extract a .tar.gz (ustar, with GNU long names and pax path headers) into `dest`. Only regular files
 * and directories are written; links and devices are skipped. Entries that would land outside `dest`
 * (absolute paths, "..") are refused.
 */
export async function extractTarGz(file: string, dest: string): Promise<{ files: number; bytes: number }> {
  const input = createReadStream(file).pipe(createGunzip());
  let buf: Buffer = Buffer.alloc(0);
  let files = 0;
  let bytes = 0;
  let longName: string | null = null;
  let paxPath: string | null = null;
  // Current entry being read: remaining body bytes, padding, and where the body goes.
  let entry: { name: string; type: string; size: number; chunks: Buffer[] } | null = null;
  let skip = 0;

  const finishEntry = async (): Promise<void> => {
    const e = entry!;
    entry = null;
    const body = Buffer.concat(e.chunks);
    if (e.type === "L") longName = body.toString("utf8").replace(/\0.*$/s, "");
    else if (e.type === "x") paxPath = parsePaxPath(body) ?? paxPath;
    else if (e.type === "0" || e.type === "\0" || e.type === "7") {
      const target = safeJoin(dest, e.name, file);
      await mkdir(dirname(target), { recursive: true });
      await writeFile(target, body);
      files += 1;
      bytes += body.length;
    }
  };

  try {
    for await (const chunk of input as AsyncIterable<Buffer>) {
      buf = buf.length === 0 ? chunk : Buffer.concat([buf, chunk]);
      for (;;) {
        if (skip > 0) {
          const n = Math.min(skip, buf.length);
          buf = buf.subarray(n);
          skip -= n;
          if (skip > 0) break;
        }
        if (entry) {
          const e: { name: string; type: string; size: number; chunks: Buffer[] } = entry;
          const have = e.chunks.reduce((a, c) => a + c.length, 0);
          const need = e.size - have;
          const n = Math.min(need, buf.length);
          if (n > 0) e.chunks.push(Buffer.from(buf.subarray(0, n)));
          buf = buf.subarray(n);
          if (n < need) break;
          skip = (512 - (e.size % 512)) % 512;
          await finishEntry();
          continue;
        }
        if (buf.length < 512) break;
        const header = buf.subarray(0, 512);
        buf = buf.subarray(512);
        if (header.every((b) => b === 0)) continue; // end-of-archive blocks
        if (!checksumOk(header)) throw new DataError(`${file} is not a valid tar.gz (bad header checksum): delete it and download again`);
        const type = String.fromCharCode(header[156]!);
        const size = parseOctal(header.subarray(124, 136));
        let name = cString(header.subarray(0, 100));
        const prefix = cString(header.subarray(345, 500));
        if (header.toString("ascii", 257, 262) === "ustar" && prefix) name = `${prefix}/${name}`;
        if (longName !== null && type !== "L" && type !== "x") [name, longName] = [longName, null];
        if (paxPath !== null && type !== "L" && type !== "x") [name, paxPath] = [paxPath, null];
        if (type === "5") {
          await mkdir(safeJoin(dest, name, file), { recursive: true });
          skip = Math.ceil(size / 512) * 512;
          continue;
        }
        entry = { name, type, size, chunks: [] };
        if (size === 0) {
          await finishEntry();
        }
      }
    }
  } catch (e) {
    if (e instanceof DataError) throw e;
    throw new DataError(`cannot extract ${file}: ${(e as Error).message}; delete it and download again`);
  }
  if (entry) throw new DataError(`${file} ends in the middle of ${(entry as { name: string }).name}: the archive is truncated; delete it and download again`);
  return { files, bytes };
}

function cString(b: Buffer): string {
  const end = b.indexOf(0);
  return b.toString("utf8", 0, end < 0 ? b.length : end);
}

function parseOctal(b: Buffer): number {
  if (b[0]! & 0x80) {
    // GNU base-256 for large sizes
    let v = 0;
    for (let i = 1; i < b.length; i++) v = v * 256 + b[i]!;
    return v;
  }
  const s = cString(b).trim();
  return s ? parseInt(s, 8) : 0;
}

function checksumOk(header: Buffer): boolean {
  const stored = parseOctal(header.subarray(148, 156));
  let sum = 0;
  for (let i = 0; i < 512; i++) sum += i >= 148 && i < 156 ? 32 : header[i]!;
  return sum === stored;
}

function parsePaxPath(body: Buffer): string | null {
  let path: string | null = null;
  let at = 0;
  while (at < body.length) {
    const space = body.indexOf(32, at);
    if (space < 0) break;
    const len = parseInt(body.toString("ascii", at, space), 10);
    if (!(len > 0)) break;
    const record = body.toString("utf8", space + 1, at + len - 1);
    const eq = record.indexOf("=");
    if (record.slice(0, eq) === "path") path = record.slice(eq + 1);
    at += len;
  }
  return path;
}

function safeJoin(dest: string, name: string, file: string): string {
  const clean = normalize(name);
  if (isAbsolute(clean) || clean === ".." || clean.startsWith(`..${sep}`)) {
    throw new DataError(`${file} contains an unsafe path ${JSON.stringify(name)}: refusing to extract it`);
  }
  return join(dest, clean);
}
