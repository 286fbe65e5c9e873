import { createHash } from "node:crypto";
import { createReadStream, existsSync } from "node:fs";
import { mkdir, open, rename, rm, stat, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { DataError } from "./errors.ts";
import { extractTarGz } from "./tar.ts";

/**
 * Fetch a dataset archive into a cache folder, resumably and checked:
 *   <cacheDir>/<name>.tgz.part  grows with each attempt (HTTP Range: bytes=<have>-), so a cut
 *                               connection or an interrupted process continues where it stopped;
 *   checksum of the whole file  must match before anything is extracted (a mismatch deletes the part);
 *   <cacheDir>/<name>/          extracted into <name>.extracting/ then renamed; `.complete` marks it done.
 */
export interface Checksum {
  algorithm: "md5" | "sha256";
  digest: string;
}

export interface DatasetSource {
  name: string;
  url: string;
  checksum: Checksum;
  /** Folder inside the archive that holds train/ and val/ (imagenette2-160.tgz has imagenette2-160/). */
  root: string;
}

/** fastai's Imagenette archives; md5 of the whole file as published by torchvision / catalyst. */
export const KNOWN_DATASETS: Record<string, DatasetSource> = {
  "imagenette2-160": {
    name: "imagenette2-160",
    url: "https://s3.amazonaws.com/fast-ai-imageclas/imagenette2-160.tgz",
    checksum: { algorithm: "md5", digest: "e793b78cc4c9e9a4ccc0c1155377a412" },
    root: "imagenette2-160",
  },
  "imagenette2-320": {
    name: "imagenette2-320",
    url: "https://s3.amazonaws.com/fast-ai-imageclas/imagenette2-320.tgz",
    checksum: { algorithm: "md5", digest: "3df6f0d01a2c9592104656642f5e78a3" },
    root: "imagenette2-320",
  },
};

export interface DownloadOptions {
  cacheDir: string;
  /** Connection attempts before giving up (each resumes from what is on disk). */
  retries?: number;
  /** Called as bytes arrive: (bytes on disk, total or null when unknown). */
  onProgress?: (have: number, total: number | null) => void;
  /** Delay between attempts in ms (default 1000, doubled each time). */
  backoffMs?: number;
  fetchImpl?: typeof fetch;
}

/** Download (resuming), verify and extract; returns the folder holding train/ and val/. */
export async function ensureDataset(source: DatasetSource, opts: DownloadOptions): Promise<string> {
  const outDir = join(opts.cacheDir, source.name);
  const marker = join(outDir, ".complete");
  const root = join(outDir, source.root);
  if (existsSync(marker)) return root;
  await mkdir(opts.cacheDir, { recursive: true });
  const archive = join(opts.cacheDir, `${source.name}.tgz`);
  if (!existsSync(archive)) await downloadFile(source.url, archive, source.checksum, opts);
  const tmp = `${outDir}.extracting`;
  await rm(tmp, { recursive: true, force: true });
  await extractTarGz(archive, tmp);
  await rm(outDir, { recursive: true, force: true });
  await rename(tmp, outDir);
  await writeFile(marker, `${source.url}\n${source.checksum.algorithm} ${source.checksum.digest}\n`);
  if (!existsSync(root)) {
    throw new DataError(`${source.name}: the archive has no ${source.root}/ folder; expected ${source.root}/train and ${source.root}/val`);
  }
  return root;
}

/** GET `url` into `dest`, resuming `dest.part` with Range requests, then verify `checksum` and rename. */
export async function downloadFile(url: string, dest: string, checksum: Checksum, opts: DownloadOptions): Promise<void> {
  const part = `${dest}.part`;
  const retries = opts.retries ?? 5;
  const doFetch = opts.fetchImpl ?? fetch;
  let backoff = opts.backoffMs ?? 1000;
  let lastError: unknown = null;
  for (let attempt = 0; attempt <= retries; attempt++) {
    if (attempt > 0) {
      await new Promise((r) => setTimeout(r, backoff));
      backoff *= 2;
    }
    try {
      const done = await fetchInto(url, part, doFetch, opts.onProgress);
      if (done) {
        lastError = null;
        break;
      }
    } catch (e) {
      if (e instanceof DataError) throw e;
      lastError = e;
    }
  }
  if (lastError) {
    const have = existsSync(part) ? (await stat(part)).size : 0;
    throw new DataError(
      `download of ${url} failed after ${retries + 1} attempts (${(lastError as Error).message}); ${have} bytes are kept in ${part}: run again to resume`,
      { url },
    );
  }
  const actual = await hashFile(part, checksum.algorithm);
  if (actual !== checksum.digest.toLowerCase()) {
    await rm(part, { force: true });
    throw new DataError(
      `checksum mismatch for ${url}: expected ${checksum.algorithm} ${checksum.digest}, got ${actual}; the file was deleted: run again to re-download, or check the URL`,
      { url, expected: checksum.digest, actual },
    );
  }
  await rename(part, dest);
}

/** One attempt. Returns true when the whole body is on disk; throws on a cut connection. */
async function fetchInto(url: string, part: string, doFetch: typeof fetch, onProgress: DownloadOptions["onProgress"]): Promise<boolean> {
  const have = existsSync(part) ? (await stat(part)).size : 0;
  const res = await doFetch(url, { headers: have > 0 ? { range: `bytes=${have}-` } : {} });
  if (res.status === 416) return true; // we already have every byte
  if (!res.ok) {
    const hint = res.status === 404 ? "check the URL or dataset name" : "try again later";
    throw new DataError(`download of ${url} failed: HTTP ${res.status} ${res.statusText}; ${hint}`, { url, status: res.status });
  }
  const resumed = res.status === 206;
  const fh = await open(part, resumed ? "a" : "w");
  let written = resumed ? have : 0;
  const length = Number(res.headers.get("content-length") ?? NaN);
  const total = Number.isFinite(length) ? length + written : null;
  try {
    if (!res.body) throw new Error("empty response body");
    for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
      await fh.write(chunk);
      written += chunk.length;
      onProgress?.(written, total);
    }
  } finally {
    await fh.close();
  }
  if (total !== null && written < total) throw new Error(`connection closed at ${written} of ${total} bytes`);
  return true;
}

export async function hashFile(path: string, algorithm: Checksum["algorithm"]): Promise<string> {
  const h = createHash(algorithm);
  for await (const chunk of createReadStream(path)) h.update(chunk as Buffer);
  return h.digest("hex");
}
