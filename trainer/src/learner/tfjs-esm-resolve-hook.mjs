// Node module-resolution hook (registered by gradients.ts): tfjs-core's ESM build imports its own files
// without extensions ("./gradients", "../ops/neg"), which Node's ESM loader refuses. Inside
// @tensorflow/tfjs-core/dist only, retry a failed relative import with ".js" and "/index.js".
export async function resolve(specifier, context, next) {
  try {
    return await next(specifier, context);
  } catch (error) {
    const fromTfjs = typeof context.parentURL === "string" && context.parentURL.includes("/@tensorflow/tfjs-core/dist/");
    if (!fromTfjs || !(specifier.startsWith("./") || specifier.startsWith("../"))) throw error;
    for (const suffix of [".js", "/index.js"]) {
      try {
        return await next(specifier + suffix, context);
      } catch {
        // try the next form
      }
    }
    throw error;
  }
}
