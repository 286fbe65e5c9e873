// Node adapter: read the decoders' .wasm files (libjpeg-turbo from shared/wasm/jpeg, the PNG decoder from
// node_modules), compile them, register them.
import { readFile } from "node:fs/promises";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { codecsRegistered, registerCodecs } from "../codecs/registry.ts";

const require = createRequire(import.meta.url);

function packageDir(name: string): string {
  return dirname(require.resolve(`${name}/package.json`));
}

let pending: Promise<void> | null = null;

/** Compile and register the JPEG, PNG and WebP decoders. Safe to call many times; the work happens once. */
export function initCodecs(): Promise<void> {
  if (codecsRegistered()) return Promise.resolve();
  pending ??= (async () => {
    const [jpeg, png, webp] = await Promise.all([
      readFile(new URL("../../wasm/jpeg/libjpeg-turbo.wasm", import.meta.url)).then((b) => WebAssembly.compile(b)),
      readFile(join(packageDir("@jsquash/png"), "codec/pkg/squoosh_png_bg.wasm")).then((b) => WebAssembly.compile(b)),
      readFile(new URL("../../wasm/webp/webp_dec.wasm", import.meta.url)).then((b) => WebAssembly.compile(b)),
    ]);
    await registerCodecs({ jpeg, png, webp });
  })().catch((e: unknown) => {
    pending = null;
    throw e;
  });
  return pending;
}
