// The Open Inference Protocol (KServe v2) over REST, on the same registry, preprocessing and limits as
// /v1. Spec: inference_rest.md + open_inference_rest.yaml (kserve/open-inference-protocol). Handlers stay
// thin: validate (oip/request.ts) -> preprocess + run (oip/infer.ts) -> respond. Every error is the
// protocol's {"error": "<message>"} (oip/errors.ts).
import { Hono, type Context } from "hono";
import type { AppEnv } from "../env.ts";
import { readCapped } from "../http/body.ts";
import { ModelUnavailableError } from "../models/registry.ts";
import { isValidModelName } from "../models/store.ts";
import { modelMetadata, runInference } from "../oip/infer.ts";
import { OipError, oipErrorResponse } from "../oip/errors.ts";
import { checkAgainstModel, parseInferRequest, parseJsonBody } from "../oip/request.ts";
import { waitUntilOf } from "./wait-until.ts";

export const SERVER_NAME = "resnet-edge";
export const SERVER_VERSION = "0.1.0";
/** Triton's classification extension (outputs[].parameters.classification = k). */
export const EXTENSIONS = ["classification"];

function modelName(c: Context<AppEnv>): string {
  const name = c.req.param("name") ?? "";
  if (!isValidModelName(name)) throw new OipError(404, `"${name.slice(0, 80)}" is not a model name; GET /v1/models lists the models`);
  return name;
}

/** A version other than the one serving (or, before any load, the active one) is not loaded: 404. */
function checkVersion(name: string, requested: string | undefined, serving: string): void {
  if (requested !== undefined && requested !== serving) {
    throw new OipError(
      404,
      `model ${name} version ${JSON.stringify(requested.slice(0, 80))} is not loaded: this worker serves only the active version, ${serving}; use /v2/models/${name}/versions/${serving} or leave the version out`,
    );
  }
}

/** GET /v2 (and /v2/, as the YAML spells it): the server's name, version and extensions. */
export const serverMetadata = (c: Context) => c.json({ name: SERVER_NAME, version: SERVER_VERSION, extensions: EXTENSIONS });

export function v2Routes(): Hono<AppEnv> {
  const r = new Hono<AppEnv>();
  r.onError((e) => oipErrorResponse(e));

  r.get("/health/live", (c) => c.json({ live: true }));

  // Ready when the default model serves (loading it if needed), as /readyz.
  r.get("/health/ready", async (c) => {
    const { models, limits } = c.get("deps");
    try {
      await models.use(limits.defaultModel, async () => undefined, waitUntilOf(c));
    } catch (e) {
      if (!(e instanceof ModelUnavailableError)) throw e;
      return c.json({ live: true, ready: false, error: `not ready: the default model ${limits.defaultModel} is not loaded: ${e.message}` }, 503);
    }
    return c.json({ live: true, ready: true });
  });

  r.get("/", serverMetadata);

  const metadata = async (c: Context<AppEnv>) => {
    const name = modelName(c);
    const manifest = await c.get("deps").models.manifest(name);
    checkVersion(name, c.req.param("version"), manifest.version);
    return c.json(modelMetadata(manifest));
  };
  r.get("/models/:name", metadata);
  r.get("/models/:name/versions/:version", metadata);

  // Ready: the version serves in this isolate (the first call loads it). Unknown: 404; failing: 503.
  const ready = async (c: Context<AppEnv>) => {
    const name = modelName(c);
    const { models } = c.get("deps");
    let version: string;
    try {
      version = await models.use(name, async (m) => m.version, waitUntilOf(c));
    } catch (e) {
      if (e instanceof ModelUnavailableError && e.status === 503) return c.json({ name, ready: false, error: `model ${name} is not ready: ${e.message}` }, 503);
      throw e;
    }
    checkVersion(name, c.req.param("version"), version);
    return c.json({ name, ready: true });
  };
  r.get("/models/:name/ready", ready);
  r.get("/models/:name/versions/:version/ready", ready);

  const infer = async (c: Context<AppEnv>) => {
    const name = modelName(c);
    const { models, preprocess, limits } = c.get("deps");
    const req = parseInferRequest(parseJsonBody(await readCapped(c.req.raw, limits.maxBodyBytes)), limits);
    const body = await models.use(
      name,
      async (model) => {
        checkVersion(name, c.req.param("version"), model.version);
        checkAgainstModel(req, model.manifest);
        return runInference(model, req, preprocess, limits);
      },
      waitUntilOf(c),
    );
    return c.json(body);
  };
  r.post("/models/:name/infer", infer);
  r.post("/models/:name/versions/:version/infer", infer);

  r.all("*", (c) => {
    throw new OipError(404, `no route ${c.req.method} ${new URL(c.req.url).pathname}; the /v2 routes: GET /v2, /v2/health/{live,ready}, /v2/models/<name>[/versions/<version>][/ready], POST /v2/models/<name>[/versions/<version>]/infer`);
  });
  return r;
}
