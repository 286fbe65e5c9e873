/**
 * The local R2 bucket that `npm start` / `wrangler dev` serve and `wrangler r2 object ... --local` writes,
 * opened through Miniflare (the same storage code wrangler uses) so it can be listed: wrangler 4.86 has
 * no `r2 object list`. State lives under <persistTo>/v3/r2 (wrangler's default persistTo: .wrangler/state).
 */
import { existsSync } from "node:fs";
import { join, resolve } from "node:path";
import { DataError } from "../data/errors.ts";
import { bucketSource, type FeedbackSource, type ListableBucket } from "./source.ts";

export interface LocalBucket {
  source: FeedbackSource;
  dispose(): Promise<void>;
}

export async function openLocalBucket(opts: { bucket: string; persistTo?: string; cwd: string }): Promise<LocalBucket> {
  const state = resolve(opts.cwd, opts.persistTo ?? ".wrangler/state");
  const r2 = join(state, "v3", "r2");
  if (!existsSync(r2)) {
    throw new DataError(`no local R2 state at ${r2}: run the worker locally first (npm start), pass --persist-to <the folder wrangler dev used>, or read the deployed worker with --worker <url>`);
  }
  const { Miniflare } = await import("miniflare");
  const mf = new Miniflare({
    modules: true,
    script: "export default { fetch() { return new Response(null, { status: 204 }); } };",
    r2Buckets: { BUCKET: opts.bucket },
    r2Persist: r2,
  });
  try {
    const bucket = (await mf.getR2Bucket("BUCKET")) as unknown as ListableBucket;
    return { source: bucketSource(bucket, `local r2://${opts.bucket} (state ${state})`), dispose: () => mf.dispose() };
  } catch (e) {
    await mf.dispose();
    throw e;
  }
}
