// Manifests travel (R2, git, GET /v1/models/:name): they must not name the machine a model was trained on.
// A training summary records paths (the data folder, the run folder, the checkpoint); these keep only the
// last segment, which is the part a reader can use: the dataset's name, the run's name.

/** Absolute (POSIX, home, Windows drive or UNC) or explicitly relative (./, ../) file paths. */
const LOCAL_PATH = /^(?:\/|~|\.{1,2}[\\/]|[A-Za-z]:[\\/]|\\\\)/;

export function isLocalPath(text: string): boolean {
  return LOCAL_PATH.test(text);
}

/** The last segment of a path: `/data/imagenette/` -> `imagenette`. */
export function lastPathSegment(path: string): string {
  const parts = path.split(/[\\/]+/).filter((p) => p !== "" && p !== "." && p !== "..");
  return parts[parts.length - 1] ?? "";
}

/**
 * A copy of `value` in which every string that is a local path is cut to its last segment, at any depth
 * (objects and arrays). Other values are kept as they are.
 */
export function stripLocalPaths<T>(value: T): T {
  if (typeof value === "string") return (isLocalPath(value) ? lastPathSegment(value) : value) as T;
  if (Array.isArray(value)) return value.map((v) => stripLocalPaths(v)) as T;
  if (value !== null && typeof value === "object") {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, stripLocalPaths(v)])) as T;
  }
  return value;
}
