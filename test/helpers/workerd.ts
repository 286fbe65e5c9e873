// Run a real worker in real workerd through Miniflare.
//
// `bundleWorker` builds the entry exactly as a deploy would (`wrangler deploy --dry-run --outdir`), so
// `.wasm` imports become compiled WebAssembly.Module bindings just as on Cloudflare. `startWorker` loads
// that bundle into Miniflare with real R2 buckets and vars. Bundles are cached per entry+config for the
// life of the test process.
import { execFile } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdirSync, readFileSync, readdirSync, writeFileSync } from "node:fs";
import { join, relative, resolve } from "node:path";
import { promisify } from "node:util";
import { Miniflare, type MiniflareOptions } from "miniflare";
import { repoRoot } from "./data.ts";

const run = promisify(execFile);

export const COMPATIBILITY_DATE = "2026-04-01";

export interface Bundle {
  dir: string;
  /** File name of the main module inside `dir`. */
  main: string;
}

export interface BundleOptions {
  /** Path to the worker entry (absolute or relative to the repo root). Ignored when `config` is given. */
  entry?: string;
  /** Path to a wrangler.toml to build with (e.g. the project's own). */
  config?: string;
  /** Extra wrangler.toml lines (e.g. [vars]) when building from `entry`. */
  extraToml?: string;
}

const bundles = new Map<string, Promise<Bundle>>();

/** Build a worker with wrangler, once per process per (entry|config). */
export function bundleWorker(opts: BundleOptions): Promise<Bundle> {
  const key = JSON.stringify(opts);
  let p = bundles.get(key);
  if (!p) {
    p = buildOnce(opts);
    bundles.set(key, p);
  }
  return p;
}

async function buildOnce(opts: BundleOptions): Promise<Bundle> {
  const id = createHash("sha256").update(JSON.stringify(opts)).digest("hex").slice(0, 12);
  const work = join(repoRoot, ".cache", "workerd-test", `${id}-${process.pid}`);
  const outDir = join(work, "out");
  mkdirSync(work, { recursive: true });
  let config: string;
  if (opts.config) {
    config = resolve(repoRoot, opts.config);
  } else if (opts.entry) {
    config = join(work, "wrangler.toml");
    const main = relative(work, resolve(repoRoot, opts.entry));
    writeFileSync(
      config,
      `name = "test-${id}"\nmain = ${JSON.stringify(main)}\ncompatibility_date = "${COMPATIBILITY_DATE}"\n${opts.extraToml ?? ""}\n`,
    );
  } else {
    throw new Error("bundleWorker: give an entry or a config");
  }
  try {
    await run(join(repoRoot, "node_modules/.bin/wrangler"), ["deploy", "--dry-run", "--outdir", outDir, "--config", config], {
      cwd: repoRoot,
      env: { ...process.env, WRANGLER_SEND_METRICS: "false", XDG_CONFIG_HOME: join(repoRoot, ".xdg"), NO_COLOR: "1" },
      maxBuffer: 16 * 1024 * 1024,
    });
  } catch (e) {
    const err = e as { stdout?: string; stderr?: string; message: string };
    throw new Error(`wrangler build of ${opts.config ?? opts.entry} failed:\n${err.stdout ?? ""}\n${err.stderr ?? err.message}`);
  }
  const main = readdirSync(outDir).find((f) => f.endsWith(".js"));
  if (!main) throw new Error(`wrangler produced no .js module in ${outDir}`);
  return { dir: outDir, main };
}

export interface StartOptions extends BundleOptions {
  r2Buckets?: string[];
  bindings?: Record<string, unknown>;
  /** Extra Miniflare options (merged last). */
  miniflare?: Partial<MiniflareOptions>;
}

export interface WorkerHandle {
  mf: Miniflare;
  fetch(path: string, init?: RequestInit): Promise<Response>;
  dispose(): Promise<void>;
}

/** Start the bundled worker in workerd. Call `dispose()` in afterAll. */
export async function startWorker(opts: StartOptions): Promise<WorkerHandle> {
  const bundle = await bundleWorker(opts);
  const mf = new Miniflare({
    // List the bundle's modules explicitly (as wrangler does) instead of letting Miniflare walk the
    // imports: bundles such as onnxruntime-web contain dynamic `import(x)` it cannot resolve.
    modules: bundleModules(bundle),
    modulesRoot: bundle.dir,
    compatibilityDate: COMPATIBILITY_DATE,
    compatibilityFlags: ["nodejs_compat"],
    r2Buckets: opts.r2Buckets ?? [],
    bindings: opts.bindings ?? {},
    ...(opts.miniflare as object),
  } as MiniflareOptions);
  await mf.ready;
  return {
    mf,
    fetch: async (path, init) => {
      const res = await mf.dispatchFetch(new URL(path, "http://worker.test").toString(), init as never);
      return res as unknown as Response;
    },
    dispose: () => mf.dispose(),
  };
}

const MODULE_TYPES: [string, "ESModule" | "CompiledWasm" | "Data" | "Text"][] = [
  [".js", "ESModule"],
  [".mjs", "ESModule"],
  [".wasm", "CompiledWasm"],
  [".bin", "Data"],
  [".txt", "Text"],
  [".html", "Text"],
];

/** Every module file wrangler wrote, main first. Source maps and the README are not modules. */
function bundleModules(bundle: Bundle): { type: "ESModule" | "CompiledWasm" | "Data" | "Text"; path: string }[] {
  const files = readdirSync(bundle.dir, { recursive: true, encoding: "utf8" }).filter((f) => f !== bundle.main);
  const modules = [{ type: "ESModule" as const, path: join(bundle.dir, bundle.main) }];
  for (const f of files) {
    const type = MODULE_TYPES.find(([ext]) => f.endsWith(ext))?.[1];
    if (type) modules.push({ type, path: join(bundle.dir, f) } as never);
  }
  return modules;
}

/** Read a file relative to the repo root (fixtures). */
export function readRepoFile(path: string): Uint8Array {
  return new Uint8Array(readFileSync(resolve(repoRoot, path)));
}
