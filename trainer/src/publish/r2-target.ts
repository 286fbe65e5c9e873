/**
 * Where models are published: an R2 bucket, reached through wrangler so the same command works on the
 * local bucket that `npm start` / `wrangler dev` serve from (`--local`, state under .wrangler/state)
 * and on the real bucket with the user's Cloudflare credentials (`--remote`).
 */
import { execFile } from "node:child_process";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { promisify } from "node:util";
import { DataError } from "../data/errors.ts";

const run = promisify(execFile);

export interface ObjectTarget {
  /** Human description for logs, e.g. "local r2://resnet-edge-models". */
  readonly description: string;
  put(key: string, body: Uint8Array, contentType: string): Promise<void>;
  /** null when the object does not exist. */
  get(key: string): Promise<Uint8Array | null>;
}

export interface WranglerR2Options {
  bucket: string;
  mode: "local" | "remote";
  /** Local state folder (wrangler's --persist-to); default: wrangler's own (.wrangler/state under cwd). */
  persistTo?: string;
  /** Project root with wrangler.toml and node_modules/.bin/wrangler. */
  cwd: string;
}

/** Bucket name from wrangler.toml's first [[r2_buckets]] entry. */
export async function bucketFromWranglerToml(path: string): Promise<string> {
  const toml = await readFile(path, "utf8").catch(() => {
    throw new DataError(`no wrangler.toml at ${path}: run from the project root or pass --bucket <name>`);
  });
  const name = /bucket_name\s*=\s*"([^"]+)"/.exec(toml)?.[1];
  if (!name) throw new DataError(`${path} declares no [[r2_buckets]] bucket_name: add one or pass --bucket <name>`);
  return name;
}

export function wranglerR2Target(opts: WranglerR2Options): ObjectTarget {
  const wrangler = join(resolve(opts.cwd), "node_modules", ".bin", "wrangler");
  const where = opts.mode === "local" ? ["--local", ...(opts.persistTo ? ["--persist-to", resolve(opts.persistTo)] : [])] : ["--remote"];
  const env = {
    ...process.env,
    WRANGLER_SEND_METRICS: "false",
    XDG_CONFIG_HOME: process.env.XDG_CONFIG_HOME ?? join(resolve(opts.cwd), ".xdg"),
    NO_COLOR: "1",
  };
  const wr = async (args: string[]) => run(wrangler, [...args, ...where], { cwd: opts.cwd, env, maxBuffer: 16 * 1024 * 1024 });
  const scratch = () => mkdtemp(join(tmpdir(), "resnet-edge-r2-"));
  return {
    description: `${opts.mode} r2://${opts.bucket}${opts.persistTo ? ` (state ${opts.persistTo})` : ""}`,
    async put(key, body, contentType) {
      const dir = await scratch();
      try {
        const file = join(dir, "object");
        await writeFile(file, body);
        await wr(["r2", "object", "put", `${opts.bucket}/${key}`, "--file", file, "--content-type", contentType]);
      } catch (e) {
        const err = e as { stderr?: string; message: string };
        throw new DataError(`could not upload ${key} to ${opts.mode} r2://${opts.bucket}: ${(err.stderr || err.message).trim().split("\n").slice(-3).join(" ")}`);
      } finally {
        await rm(dir, { recursive: true, force: true });
      }
    },
    async get(key) {
      const dir = await scratch();
      try {
        const file = join(dir, "object");
        try {
          await wr(["r2", "object", "get", `${opts.bucket}/${key}`, "--file", file]);
        } catch (e) {
          const text = `${(e as { stdout?: string }).stdout ?? ""}${(e as { stderr?: string }).stderr ?? ""}`;
          if (/not found|does not exist|NoSuchKey/i.test(text)) return null;
          throw new DataError(`could not read ${key} from ${opts.mode} r2://${opts.bucket}: ${text.trim().split("\n").slice(-3).join(" ")}`);
        }
        return new Uint8Array(await readFile(file));
      } finally {
        await rm(dir, { recursive: true, force: true });
      }
    },
  };
}

/** The subset of an R2 bucket binding that publishing needs (Workers' R2Bucket, Miniflare's getR2Bucket()). */
export interface BucketLike {
  put(key: string, value: Uint8Array, options?: { httpMetadata?: { contentType?: string } }): Promise<unknown>;
  get(key: string): Promise<{ arrayBuffer(): Promise<ArrayBuffer> } | null>;
}

/** Publish straight into a bucket object, e.g. Miniflare's R2 in tests or a script running next to it. */
export function bucketTarget(bucket: BucketLike, description = "r2 bucket"): ObjectTarget {
  return {
    description,
    async put(key, body, contentType) {
      await bucket.put(key, body, { httpMetadata: { contentType } });
    },
    async get(key) {
      const o = await bucket.get(key);
      return o ? new Uint8Array(await o.arrayBuffer()) : null;
    },
  };
}
