// Workers adapter: wrangler bundles an `import x from "....wasm"` as a compiled WebAssembly.Module (workerd
// refuses to compile wasm from bytes at runtime), so the modules arrive ready to register.
import jpeg from "../../wasm/jpeg/libjpeg-turbo.wasm";
// The package ships a .d.ts describing this file's exports as an ES module; under wrangler its default export
// is the compiled module, hence the namespace import.
import * as pngWasm from "@jsquash/png/codec/pkg/squoosh_png_bg.wasm";
import webp from "../../wasm/webp/webp_dec.wasm";
import { registerCodecs } from "../codecs/registry.ts";

/** Register the JPEG, PNG and WebP decoders. Safe to call on every request; the work happens once. */
export function initCodecs(): Promise<void> {
  return registerCodecs({ jpeg, png: (pngWasm as unknown as { default: WebAssembly.Module }).default, webp });
}
