/**
 * The compiled WebAssembly modules the decoders run on. The core never loads wasm itself: each runtime
 * adapter (runtime/node.ts, runtime/workerd.ts) compiles or imports them in the way its runtime allows and
 * hands them over here. workerd forbids compiling wasm from bytes, which is why this is a hand-over.
 */
export interface CodecModules {
  /** shared/wasm/jpeg/libjpeg-turbo.wasm (libjpeg-turbo 2.1.5; build.sh there) */
  jpeg: WebAssembly.Module;
  /** @jsquash/png codec/pkg/squoosh_png_bg.wasm */
  png: WebAssembly.Module;
  /** shared/wasm/webp/webp_dec.wasm (libwebp's decoder, built by shared/wasm/webp/build.sh) */
  webp: WebAssembly.Module;
}

let registered: CodecModules | null = null;

/** Register the decoder modules. Idempotent: later calls are ignored once codecs are registered. */
export async function registerCodecs(modules: CodecModules): Promise<void> {
  if (registered) return;
  if (!(modules?.jpeg instanceof WebAssembly.Module) || !(modules?.png instanceof WebAssembly.Module) || !(modules?.webp instanceof WebAssembly.Module)) {
    throw new Error("registerCodecs needs { jpeg, png, webp } as compiled WebAssembly.Module objects (use initCodecs() from @resnet-edge/shared/node or /workerd)");
  }
  registered = modules;
}

/** The registered modules; throws a plain Error (a setup bug, not a user mistake) if there are none. */
export function codecModules(): CodecModules {
  if (!registered) {
    throw new Error(
      "image codecs are not registered: call `await initCodecs()` from @resnet-edge/shared/node (Node) or @resnet-edge/shared/workerd (Workers) once at startup",
    );
  }
  return registered;
}

export function codecsRegistered(): boolean {
  return registered !== null;
}
