// Bearer-token check for write routes: the token is a Worker secret, compared in constant time.
import { ApiError } from "./errors.ts";

/** A 401 that tells the client which scheme to use (RFC 6750). */
export class UnauthorizedError extends ApiError {
  constructor(message: string) {
    super(401, "unauthorized", message);
  }

  override getResponse(): Response {
    const res = super.getResponse();
    res.headers.set("WWW-Authenticate", 'Bearer realm="resnet-edge"');
    return res;
  }
}

const enc = new TextEncoder();

async function sha256(text: string): Promise<Uint8Array> {
  return new Uint8Array(await crypto.subtle.digest("SHA-256", enc.encode(text)));
}

/**
 * Equal strings, in time independent of where they differ: both sides are hashed first, so the
 * comparison always runs over 32 bytes whatever the lengths.
 */
export async function constantTimeEqual(a: string, b: string): Promise<boolean> {
  const [x, y] = await Promise.all([sha256(a), sha256(b)]);
  let diff = 0;
  for (let i = 0; i < x.length; i++) diff |= x[i]! ^ y[i]!;
  return diff === 0;
}

/**
 * Require `Authorization: Bearer <secret>`. `secretName` names the Worker secret in messages.
 * No secret configured: 503 (the route is off; never accept unauthenticated writes).
 */
export async function requireBearer(authorization: string | null | undefined, secret: string | undefined, secretName: string, what: string): Promise<void> {
  if (!secret) {
    throw new ApiError(503, `${what}_disabled`, `${what} is disabled: set ${secretName} with \`wrangler secret put ${secretName}\` (locally: in .dev.vars)`);
  }
  const m = /^Bearer[ \t]+(\S+)[ \t]*$/i.exec(authorization ?? "");
  if (!m) throw new UnauthorizedError(`${what} needs an "Authorization: Bearer <token>" header with the ${secretName} secret`);
  if (!(await constantTimeEqual(m[1]!, secret))) throw new UnauthorizedError(`the bearer token is wrong: use the value of the ${secretName} secret`);
}
