/**
 * What every client sends on every call, whatever its transport: the bearer
 * token and the caller's fixed headers, as interceptors that any connect-es
 * transport accepts.
 */
import type { Interceptor } from "@connectrpc/connect";

/** Where the bearer token comes from: a fixed string, or a function asked once per call. */
export interface TokenSource {
  /** A token sent as `Authorization: Bearer <token>` on every call. */
  token?: string;
  /**
   * Asked before every call (so a token can be refreshed between calls); its
   * result is sent as `Authorization: Bearer <token>`. An empty string sends no
   * header. Mutually exclusive with `token`.
   */
  getToken?: () => string | Promise<string>;
}

/** Options both entry points (Node and browsers) share. */
export interface CommonClientOptions extends TokenSource {
  /** The service's address, such as `https://capacity.example.com` (a path prefix is kept). */
  baseUrl: string;
  /** The protobuf binary encoding instead of JSON (Connect); gRPC and gRPC-Web default to binary. */
  binary?: boolean;
  /** A deadline for every call that does not set its own `timeoutMs`; none by default. */
  timeoutMs?: number;
  /** Headers sent on every call; a header the call sets itself wins. */
  headers?: Record<string, string>;
  /** More interceptors, run after the client's own (token, headers). */
  interceptors?: Interceptor[];
}

/**
 * An interceptor that puts `Authorization: Bearer <token>` on each call,
 * unless the call already carries an `Authorization` header.
 */
export function bearerAuth(source: TokenSource): Interceptor {
  if (source.token !== undefined && source.getToken !== undefined) throw new TypeError("pass either token or getToken, not both");
  const { token, getToken } = source;
  return (next) => async (req) => {
    if (!req.header.has("authorization")) {
      const value = getToken ? await getToken() : token;
      if (value) req.header.set("authorization", `Bearer ${value}`);
    }
    return next(req);
  };
}

/** An interceptor that adds `headers` to each call where the call did not set them. */
export function defaultHeaders(headers: Record<string, string>): Interceptor {
  const entries = Object.entries(headers);
  return (next) => (req) => {
    for (const [name, value] of entries) if (!req.header.has(name)) req.header.set(name, value);
    return next(req);
  };
}

/** The interceptors a client built from `options` runs, in order. */
export function clientInterceptors(options: CommonClientOptions): Interceptor[] {
  return [defaultHeaders(options.headers ?? {}), bearerAuth(options), ...(options.interceptors ?? [])];
}
