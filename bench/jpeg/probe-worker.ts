// Worker for bench/jpeg/memory.ts: POST a JPEG to /preprocess?config=<json>; answers the tensor's dims,
// the source, and libjpeg's wasm heap at the end of the decode (its high-water mark), read inside workerd.
import { DEFAULT_PREPROCESS, ImageError, preprocess, type DecodeLimits, type PreprocessConfig } from "@resnet-edge/shared";
import { initCodecs } from "@resnet-edge/shared/workerd";
import { libjpegLastDecodeHeapBytes } from "../../shared/src/codecs/libjpeg-turbo.ts";

export default {
  async fetch(request: Request): Promise<Response> {
    await initCodecs();
    const url = new URL(request.url);
    const bytes = new Uint8Array(await request.arrayBuffer());
    const config = JSON.parse(url.searchParams.get("config") ?? JSON.stringify(DEFAULT_PREPROCESS)) as PreprocessConfig;
    const limits = url.searchParams.get("limits");
    try {
      const out = await preprocess(bytes, config, limits ? { limits: JSON.parse(limits) as DecodeLimits } : {});
      return Response.json({ dims: out.dims, source: out.source, libjpegHeapBytes: libjpegLastDecodeHeapBytes() });
    } catch (e) {
      if (e instanceof ImageError) return Response.json({ code: e.code, message: e.message, libjpegHeapBytes: libjpegLastDecodeHeapBytes() }, { status: 422 });
      throw e;
    }
  },
};
