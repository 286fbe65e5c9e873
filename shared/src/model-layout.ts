/**
 * Where models live in R2: the contract between `trainer publish` (writes it) and the worker's model store
 * (edge/src/models/store.ts reads it), next to the feedback layout (feedback-layout.ts).
 *
 *   models/<name>/active.json              {"version": "<version>"}: the pointer; rewriting it publishes
 *   models/<name>/<version>/manifest.json  the ModelManifest (file names, sha256 and sizes)
 *   models/<name>/<version>/<file>         the ONNX files the manifest names (model.onnx, model.int8.onnx)
 *
 * A version's objects are immutable once written; objects go first and the pointer last, so a reader
 * never follows a pointer to a half-uploaded version. Names and versions follow MODEL_NAME_RE, so each
 * is one safe path segment.
 */
export const MODELS_PREFIX = "models/";

/** The model-name rule, for names and versions alike (manifest.ts validates both with it). */
export const MODEL_NAME_RE = /^[a-z0-9][a-z0-9._-]{0,63}$/;
export const MODEL_NAME_RULE = "lowercase letters, digits, '.', '_' or '-', up to 64 characters";

export function isValidModelName(name: string): boolean {
  return MODEL_NAME_RE.test(name);
}

export const pointerKey = (name: string): string => `${MODELS_PREFIX}${name}/active.json`;
/** The folder of one version, ending in "/". */
export const versionPrefix = (name: string, version: string): string => `${MODELS_PREFIX}${name}/${version}/`;
export const manifestKey = (name: string, version: string): string => `${versionPrefix(name, version)}manifest.json`;
export const fileKey = (name: string, version: string, file: string): string => `${versionPrefix(name, version)}${file}`;

/** The pointer object's body. */
export function pointerBody(version: string): string {
  return JSON.stringify({ version });
}

/** The model name of a delimited prefix from listing MODELS_PREFIX ("models/<name>/"), or null. */
export function modelNameOfPrefix(prefix: string): string | null {
  if (!prefix.startsWith(MODELS_PREFIX) || !prefix.endsWith("/")) return null;
  const name = prefix.slice(MODELS_PREFIX.length, -1);
  return isValidModelName(name) ? name : null;
}
