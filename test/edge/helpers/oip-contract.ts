// The Open Inference Protocol's OpenAPI document (../shared/specs/open-inference-protocol) as a response
// validator: ajv compiles the document's own component schemas, and each response is checked against
// the schema the document gives for its operation and status. Nothing here restates the spec by hand.
import { existsSync, readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { Ajv, type ValidateFunction } from "ajv";
import { parse } from "yaml";
import { repoRoot } from "../../helpers/data.ts";

export const SPEC_DIR = resolve(repoRoot, process.env.RESNET_EDGE_SPECS ?? "../shared/specs", "open-inference-protocol");
export const SPEC_FILE = join(SPEC_DIR, "open_inference_rest.yaml");
export const hasSpec = existsSync(SPEC_FILE);
export const NEEDS_SPEC = `needs the Open Inference Protocol spec at ${SPEC_FILE} (../shared/specs beside the repo; set RESNET_EDGE_SPECS)`;

interface Operation {
  operationId: string;
  responses: Record<string, { content?: Record<string, { schema?: { $ref?: string } }> }>;
}

/**
 * The schema for error bodies of an operation whose document lists no schema for that status (the
 * spec: "must be indicated by an HTTP error status (typically 400)" with the operation's error object).
 * These are the document's own components, picked per operation.
 */
const ERROR_SCHEMA: Record<string, string> = {
  "get-v2": "metadata_server_error_response",
  "get-v2-models-$-modelName-versions-$-modelVersion": "metadata_model_error_response",
  "post-v2-models-$-MODEL_NAME-versions-$-MODEL_VERSION-infer": "inference_error_response",
};

export class OipContract {
  private readonly ajv = new Ajv({ strict: false, allErrors: true });
  private readonly doc: { paths: Record<string, Record<string, Operation>> };
  private readonly routes: { re: RegExp; path: string }[];

  constructor(file = SPEC_FILE) {
    this.doc = parse(readFileSync(file, "utf8"));
    this.ajv.addSchema(this.doc as object, "oip");
    this.routes = Object.keys(this.doc.paths).map((path) => ({
      path,
      re: new RegExp(`^${path.replace(/\$\{[A-Z_]+\}/g, "[^/]+").replace(/\/$/, "")}/?$`),
    }));
  }

  schema(component: string): ValidateFunction {
    const v = this.ajv.getSchema(`oip#/components/schemas/${component}`);
    if (!v) throw new Error(`the spec has no component schema ${component}`);
    return v;
  }

  /**
   * The document's operation for a request. Its paths carry the version (`/versions/${MODEL_VERSION}`);
   * the prose makes that segment optional, so an unversioned model path maps to the versioned one.
   */
  operation(method: string, pathname: string): { path: string; op: Operation } {
    const versioned = pathname.replace(/^(\/v2\/models\/[^/]+)(?!\/versions\/)(\/(?:ready|infer))?$/, "$1/versions/_$2");
    for (const candidate of [pathname, versioned]) {
      const hit = this.routes.find((r) => r.re.test(candidate));
      const op = hit && this.doc.paths[hit.path]![method.toLowerCase()];
      if (hit && op) return { path: hit.path, op };
    }
    throw new Error(`${method} ${pathname} is not an operation of the Open Inference Protocol document`);
  }

  /** Errors (empty when valid) of a response against the document. */
  check(method: string, pathname: string, status: number, body: unknown): string[] {
    const { path, op } = this.operation(method, pathname);
    const documented = op.responses[String(status)];
    let ref = documented?.content?.["application/json"]?.schema?.$ref;
    if (!documented) {
      if (status < 400) return [`${method} ${path}: status ${status} is not documented`];
      ref = `#/components/schemas/${ERROR_SCHEMA[op.operationId] ?? "inference_error_response"}`;
    }
    if (!ref) return []; // documented without a body schema (health and ready probes)
    const validate = this.schema(ref.replace("#/components/schemas/", ""));
    return validate(body) ? [] : (validate.errors ?? []).map((e) => `${method} ${path} ${status}: ${e.instancePath || "/"} ${e.message}`);
  }
}
