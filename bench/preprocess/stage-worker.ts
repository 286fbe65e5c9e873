// A worker for bench/preprocess/workerd-stages.ts: POST image bytes to /stage?name=decode|ops|all&repeat=N
// to run one stage of preprocessing N times inside workerd (decode = decodeImage, ops = preprocessImage on
// pixels decoded once per request, all = preprocess). Answers the number of floats or pixels produced.
import { DEFAULT_PREPROCESS, decodeImage, preprocess, preprocessImage } from "@resnet-edge/shared";
import { initCodecs } from "@resnet-edge/shared/workerd";

export default {
  async fetch(request: Request): Promise<Response> {
    await initCodecs();
    const url = new URL(request.url);
    const bytes = new Uint8Array(await request.arrayBuffer());
    if (url.pathname === "/noop") return new Response(String(bytes.length));
    const name = url.searchParams.get("name");
    const repeat = Math.max(1, Number(url.searchParams.get("repeat") ?? 1));
    const maxPixels = DEFAULT_PREPROCESS.maxPixels;
    let sink = 0;
    if (name === "decode") {
      for (let i = 0; i < repeat; i++) sink += (await decodeImage(bytes, { maxPixels })).data.length;
    } else if (name === "ops") {
      const decoded = await decodeImage(bytes, { maxPixels });
      for (let i = 0; i < repeat; i++) sink += preprocessImage(decoded, DEFAULT_PREPROCESS).data.length;
    } else if (name === "all") {
      for (let i = 0; i < repeat; i++) sink += (await preprocess(bytes, DEFAULT_PREPROCESS)).data.length;
    } else {
      return new Response("name must be decode, ops or all", { status: 400 });
    }
    return new Response(String(sink));
  },
};
