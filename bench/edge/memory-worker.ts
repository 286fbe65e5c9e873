// The edge worker (edge/src/index.ts, unchanged) plus one bench-only route, GET /__memory: every wasm
// memory the isolate holds, read inside workerd. Built by wrangler like the real worker
// (bench/edge/isolate-memory.ts); never deployed.
// - ort: ORT's wasm heap now (it never shrinks);
// - decoders: the decoders' live wasm memories now (each is dropped after a large decode or a failure);
// - lastDecode: each decoder's wasm memory right after its last decode, before any drop: the decoder's
//   peak during that request.
import worker from "../../edge/src/index.ts";
import { wasmHeapBytes } from "../../edge/src/inference/ort.ts";
import { decoderMemoryBytes } from "../../shared/src/decode.ts";
import { libjpegLastDecodeHeapBytes } from "../../shared/src/codecs/libjpeg-turbo.ts";
import { pngLastDecodeMemoryBytes } from "../../shared/src/codecs/png.ts";
import { webpLastDecodeMemoryBytes } from "../../shared/src/codecs/webp.ts";

type Fetch = (request: Request, env: unknown, ctx: unknown) => Response | Promise<Response>;

export default {
  fetch(request: Request, env: unknown, ctx: unknown): Response | Promise<Response> {
    if (new URL(request.url).pathname === "/__memory") {
      return Response.json({
        ort: wasmHeapBytes() ?? 0,
        decoders: decoderMemoryBytes(),
        lastDecode: { jpeg: libjpegLastDecodeHeapBytes(), png: pngLastDecodeMemoryBytes(), webp: webpLastDecodeMemoryBytes() },
      });
    }
    return (worker.fetch as Fetch)(request, env, ctx);
  },
};
