// Types for the one jpeg-js file we import (the package ships types for its index only).
declare module "jpeg-js/lib/decoder.js" {
  export default function decode(
    jpegData: Uint8Array | ArrayBuffer,
    opts: {
      useTArray: true;
      colorTransform?: boolean;
      formatAsRGBA?: boolean;
      tolerantDecoding?: boolean;
      maxResolutionInMP?: number;
      maxMemoryUsageInMB?: number;
    },
  ): { width: number; height: number; data: Uint8Array; exifBuffer?: Uint8Array; comments?: string[] };
}

// wrangler turns a .wasm import into a compiled module (see runtime/workerd.ts).
declare module "*.wasm" {
  const module: WebAssembly.Module;
  export default module;
}
