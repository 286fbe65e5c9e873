import { createHash } from "node:crypto";
import { existsSync, mkdtempSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { gzipSync } from "node:zlib";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { downloadFile, ensureDataset, type DatasetSource } from "../../trainer/src/data/download.ts";
import { DataError } from "../../trainer/src/data/errors.ts";
import { scanImageFolder } from "../../trainer/src/data/imagenette.ts";
import { extractTarGz } from "../../trainer/src/data/tar.ts";

/** A minimal ustar writer (regular files and directories; long names through a GNU 'L' entry). */
function tar(entries: { name: string; body?: Uint8Array; dir?: boolean }[]): Buffer {
  const blocks: Buffer[] = [];
  const header = (name: string, size: number, type: string): Buffer => {
    const h = Buffer.alloc(512);
    h.write(name.slice(0, 99), 0, "utf8");
    h.write("0000644\0", 100);
    h.write("0000000\0", 108);
    h.write("0000000\0", 116);
    h.write(`${size.toString(8).padStart(11, "0")}\0`, 124);
    h.write("00000000000\0", 136);
    h.write("        ", 148);
    h.write(type, 156);
    h.write("ustar\0", 257);
    h.write("00", 263);
    let sum = 0;
    for (const b of h) sum += b;
    h.write(`${sum.toString(8).padStart(6, "0")}\0 `, 148);
    return h;
  };
  const pad = (n: number): Buffer => Buffer.alloc((512 - (n % 512)) % 512);
  for (const e of entries) {
    if (e.name.length > 99) {
      const long = Buffer.from(`${e.name}\0`);
      blocks.push(header("././@LongLink", long.length, "L"), long, pad(long.length));
    }
    if (e.dir) blocks.push(header(e.name, 0, "5"));
    else {
      const body = Buffer.from(e.body ?? new Uint8Array());
      blocks.push(header(e.name, body.length, "0"), body, pad(body.length));
    }
  }
  blocks.push(Buffer.alloc(1024));
  return Buffer.concat(blocks);
}

function bodyOf(split: string, wnid: string, i: number): Uint8Array {
  let state = [...`${split}/${wnid}/${i}`].reduce((h, c) => (Math.imul(h, 31) + c.charCodeAt(0)) >>> 0, 7);
  return new Uint8Array(700 + i * 300).map(() => ((state = (state * 1103515245 + 12345) >>> 0) >>> 24));
}

/** A fake dataset archive: imagenette layout with a few small "images" (bytes only; never decoded here). */
function datasetTgz(): Buffer {
  const files: { name: string; body?: Uint8Array; dir?: boolean }[] = [{ name: "tiny/", dir: true }];
  for (const split of ["train", "val"]) {
    for (const wnid of ["n01440764", "n03888257"]) {
      for (let i = 0; i < 3; i++) {
        // Pseudo-random bytes so the archive stays several KB after gzip.
        const body = bodyOf(split, wnid, i);
        files.push({ name: `tiny/${split}/${wnid}/${wnid}_${i}.JPEG`, body });
      }
    }
  }
  files.push({ name: `tiny/${"deep/".repeat(25)}long-name.txt`, body: Buffer.from("long names survive") });
  return gzipSync(tar(files));
}

let server: Server;
let base = "";
const archive = datasetTgz();
if (archive.length < 8000) throw new Error(`test archive is only ${archive.length} bytes; the cut/resume tests need > 8000`);
const requests: { url: string; range: string | undefined }[] = [];
/** Paths whose first response is cut after this many bytes. */
const cutOnce = new Map<string, number>();

beforeAll(async () => {
  server = createServer((req, res) => {
    const url = req.url ?? "/";
    requests.push({ url, range: req.headers.range });
    if (!url.startsWith("/data/")) {
      res.writeHead(404).end("not found");
      return;
    }
    let start = 0;
    const m = /^bytes=(\d+)-$/.exec(req.headers.range ?? "");
    if (m) {
      start = Number(m[1]);
      if (start >= archive.length) {
        res.writeHead(416, { "content-range": `bytes */${archive.length}` }).end();
        return;
      }
      res.writeHead(206, { "content-length": archive.length - start, "content-range": `bytes ${start}-${archive.length - 1}/${archive.length}` });
    } else {
      res.writeHead(200, { "content-length": archive.length, "accept-ranges": "bytes" });
    }
    const cut = cutOnce.get(url);
    if (cut !== undefined) {
      cutOnce.delete(url);
      // Send `cut` bytes of the promised length, give the client time to read them, then close the
      // connection cleanly (FIN, not RST). A close that arrives with the bytes can error the fetch
      // body stream before they are read, and the WHATWG stream then drops them: that raced under load.
      res.write(archive.subarray(start, start + cut), () => setTimeout(() => res.socket?.end(), 300));
      return;
    }
    res.end(archive.subarray(start));
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(() => new Promise<void>((r) => server.close(() => r())));

const md5 = createHash("md5").update(archive).digest("hex");
const sha256 = createHash("sha256").update(archive).digest("hex");

describe("dataset download", () => {
  test("download, verify and extract into the cache; the result scans as an image folder", async () => {
    const cacheDir = mkdtempSync(join(tmpdir(), "dl-"));
    const source: DatasetSource = { name: "tiny", url: `${base}/data/tiny.tgz`, checksum: { algorithm: "md5", digest: md5 }, root: "tiny" };
    const root = await ensureDataset(source, { cacheDir, backoffMs: 10 });
    expect(root).toBe(join(cacheDir, "tiny", "tiny"));
    const split = await scanImageFolder(root);
    expect(split.classes).toEqual(["n01440764", "n03888257"]);
    expect(split.train).toHaveLength(6);
    expect(split.valid).toHaveLength(6);
    const one = readFileSync(join(root, "train/n03888257/n03888257_2.JPEG"));
    expect(one.length).toBe(1300);
    expect(createHash("md5").update(one).digest("hex")).toBe(createHash("md5").update(bodyOf("train", "n03888257", 2)).digest("hex"));
    expect(readFileSync(join(root, `${"deep/".repeat(25)}long-name.txt`), "utf8")).toBe("long names survive");
    // Second call: served from the cache, no request.
    const before = requests.length;
    expect(await ensureDataset(source, { cacheDir })).toBe(root);
    expect(requests.length).toBe(before);
  });

  test("a cut connection resumes with a Range request and the file is intact", async () => {
    const dir = mkdtempSync(join(tmpdir(), "dl-"));
    const url = `${base}/data/cut.tgz`;
    cutOnce.set("/data/cut.tgz", 1000);
    const dest = join(dir, "cut.tgz");
    await downloadFile(url, dest, { algorithm: "sha256", digest: sha256 }, { cacheDir: dir, backoffMs: 10 });
    const mine = requests.filter((r) => r.url === "/data/cut.tgz");
    expect(mine).toHaveLength(2);
    expect(mine[0]!.range).toBeUndefined();
    expect(mine[1]!.range).toBe("bytes=1000-");
    expect(readFileSync(dest).equals(archive)).toBe(true);
    expect(existsSync(`${dest}.part`)).toBe(false);
  });

  test("an interrupted earlier run's .part file is continued, not restarted", async () => {
    const dir = mkdtempSync(join(tmpdir(), "dl-"));
    const dest = join(dir, "part.tgz");
    writeFileSync(`${dest}.part`, archive.subarray(0, 2500));
    await downloadFile(`${base}/data/part.tgz`, dest, { algorithm: "md5", digest: md5 }, { cacheDir: dir });
    expect(requests.filter((r) => r.url === "/data/part.tgz").map((r) => r.range)).toEqual(["bytes=2500-"]);
    expect(statSync(dest).size).toBe(archive.length);
  });

  test("a checksum mismatch is an error that deletes the download and says to retry", async () => {
    const dir = mkdtempSync(join(tmpdir(), "dl-"));
    const dest = join(dir, "bad.tgz");
    const err = await downloadFile(`${base}/data/bad.tgz`, dest, { algorithm: "md5", digest: "0".repeat(32) }, { cacheDir: dir }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DataError);
    expect((err as Error).message).toMatch(new RegExp(`checksum mismatch .*expected md5 0{32}, got ${md5}.*run again`));
    expect(existsSync(dest)).toBe(false);
    expect(existsSync(`${dest}.part`)).toBe(false);
  });

  test("HTTP errors and unsafe archives are DataErrors", async () => {
    const dir = mkdtempSync(join(tmpdir(), "dl-"));
    await expect(downloadFile(`${base}/missing.tgz`, join(dir, "m.tgz"), { algorithm: "md5", digest: md5 }, { cacheDir: dir })).rejects.toThrow(
      /HTTP 404.*check the URL/,
    );
    const evil = join(dir, "evil.tgz");
    writeFileSync(evil, gzipSync(tar([{ name: "../escape.txt", body: Buffer.from("x") }])));
    await expect(extractTarGz(evil, join(dir, "out"))).rejects.toThrow(/unsafe path/);
    expect(existsSync(join(dir, "escape.txt"))).toBe(false);
    const truncated = join(dir, "trunc.tgz");
    writeFileSync(truncated, gzipSync(tar([{ name: "a.bin", body: new Uint8Array(5000) }]).subarray(0, 2048)));
    await expect(extractTarGz(truncated, join(dir, "out2"))).rejects.toThrow(DataError);
  });
});
