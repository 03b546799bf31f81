/**
 * What the listener fuzzing sends over HTTP/1.x: request lines, versions,
 * methods, header names and values, length headers and chunking, and path
 * shapes on every route, as raw bytes (fast-check arbitraries, sampled with
 * a seed so a run can be repeated).
 */
import { gzipSync } from "node:zlib";
import fc from "fast-check";

/** One case: the bytes to write and how to label it. */
export interface RawCase {
  category: string;
  chunks: Buffer[];
  halfClose: boolean;
}

export const RPC_PATHS = [
  "/work.v1.CapacityService/GetCapacity",
  "/work.v1.CapacityService/ListCapacities",
  "/work.v1.CapacityService/SetCapacity",
  "/work.v1.CapacityService/DeleteCapacity",
  "/work.v1.CapacityService/UndeleteCapacity",
  "/work.v1.CapacityService/ConfirmCapacity",
  "/work.v1.CapacityService/GetPersonAvailability",
  "/work.v1.CapacityService/BatchGetPersonAvailability",
  "/grpc.health.v1.Health/Check",
  "/grpc.health.v1.Health/Watch",
  "/grpc.reflection.v1.ServerReflection/ServerReflectionInfo",
  "/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo",
];
export const MAIN_ROUTES = ["/healthz", "/readyz", "/ui", "/ui/", "/ui/index.html", "/ui/assets/index.js", "/", "/metrics", "/favicon.ico", ...RPC_PATHS];
export const ADMIN_ROUTES = ["/metrics", "/healthz", "/readyz", "/", "/ui/"];

const hex = fc.constantFrom(..."0123456789abcdefABCDEF");
const anyByte = fc.integer({ min: 0, max: 255 }).map((b) => String.fromCharCode(b));
/** Latin-1 strings of any byte: each character is written as one byte. */
const bytes = (maxLength: number): fc.Arbitrary<string> => fc.array(anyByte, { maxLength }).map((a) => a.join(""));
const long = (unit: string): fc.Arbitrary<string> => fc.integer({ min: 1000, max: 20_000 }).map((n) => unit.repeat(Math.ceil(n / unit.length)));

/** Broken and tricky percent-encodings, dot segments and slashes. */
const pathPiece = fc.oneof(
  fc.constantFrom(
    "%",
    "%E0%A4%A",
    "%E0%A4",
    "%C0%AF",
    "%C0%AE%C0%AE/",
    "%2e%2e/",
    "%2E%2E%2F",
    "..%2f",
    "../",
    "./",
    "//",
    "%00",
    "%ff",
    "%FF%FE",
    "%u2215",
    "%25",
    "%%",
    "%2F",
    "\\",
    "..\\",
    "%5c",
    "?",
    "#",
    ";",
    "%0d%0a",
    "%20",
    " ",
    "\t",
    "\u00e9",
    "%C3%A9",
    "%ED%A0%80",
    "%F4%90%80%80",
    "~",
    "index.html%00.png",
  ),
  fc.tuple(fc.constant("%"), fc.array(fc.oneof(hex, anyByte), { maxLength: 2 })).map(([p, a]) => p + a.join("")),
  bytes(6),
);

/** A path on one of `routes`, shaped: pieces inserted or appended, slashes doubled, cased, lengthened. */
export function pathShape(routes: readonly string[]): fc.Arbitrary<string> {
  const route = fc.constantFrom(...routes);
  return fc.oneof(
    { weight: 2, arbitrary: route },
    { weight: 4, arbitrary: fc.tuple(route, fc.array(pathPiece, { minLength: 1, maxLength: 4 })).map(([r, p]) => r + p.join("")) },
    {
      weight: 2,
      arbitrary: fc.tuple(route, pathPiece, fc.nat()).map(([r, p, at]) => {
        const i = at % (r.length + 1);
        return r.slice(0, i) + p + r.slice(i);
      }),
    },
    { weight: 1, arbitrary: route.map((r) => r.replaceAll("/", "//")) },
    { weight: 1, arbitrary: route.map((r) => r.toUpperCase()) },
    { weight: 1, arbitrary: fc.tuple(route, long("a/")).map(([r, l]) => r + l) },
    { weight: 1, arbitrary: fc.tuple(route, long("%2e%2e/")).map(([r, l]) => r + l) },
    { weight: 1, arbitrary: route.map((r) => `http://x${r}`) },
    {
      weight: 1,
      arbitrary: fc.constantFrom("*", "", "x", "%", "/..", "/%2e%2e/%2e%2e/etc/passwd", "/ui/..%2f..%2fpackage.json", "/ui/%2e%2e/%2e%2e/package.json"),
    },
    {
      weight: 2,
      arbitrary: fc
        .tuple(
          fc.constantFrom(...RPC_PATHS),
          fc.constantFrom("?connect=v1&encoding=json&message=", "?encoding=proto&base64=1&message=", "?message=", "?encoding=json&compression=gzip&message="),
          fc.array(pathPiece, { maxLength: 3 }),
        )
        .map(([r, q, p]) => r + q + p.join("")),
    },
  );
}

const method = fc.oneof(
  { weight: 6, arbitrary: fc.constantFrom("GET", "HEAD", "POST", "OPTIONS", "PUT", "DELETE", "PATCH", "TRACE", "CONNECT", "PRI") },
  { weight: 2, arbitrary: fc.constantFrom("get", "post", "Get", "G ET", "", "GET\0", "POST ", "M-SEARCH", "PROPFIND", "SOURCE", "QUERY") },
  { weight: 1, arbitrary: long("A") },
  { weight: 1, arbitrary: bytes(12) },
);

export const VERSIONS = [
  "HTTP/1.1",
  "HTTP/1.0",
  "HTTP/0.9",
  "HTTP/2.0",
  "HTTP/2",
  "HTTP/3",
  "HTTP/3.0",
  "HTTP/1.2",
  "HTTP/9.9",
  "http/1.1",
  "HTTP/1.1 ",
  "HTTP/1",
  "HTTP/",
  "HTTP/1.1.1",
  "HTTPS/1.1",
  "HTTP/01.1",
  "HTTP/1.10",
];
const version = fc.oneof(
  { weight: 5, arbitrary: fc.constantFrom(...VERSIONS) },
  { weight: 1, arbitrary: fc.constant("") },
  { weight: 1, arbitrary: bytes(10) },
);
const eol = fc.constantFrom("\r\n", "\r\n", "\r\n", "\n", "\r", "\r\r\n");

const tokenName = fc.constantFrom(
  "host",
  "content-type",
  "authorization",
  "origin",
  "accept",
  "user-agent",
  "x-request-id",
  "te",
  "connection",
  "upgrade",
  "expect",
  "accept-encoding",
  "content-encoding",
  "connect-protocol-version",
  "connect-timeout-ms",
  "grpc-timeout",
  "access-control-request-method",
  "cookie",
  "x-forwarded-for",
  "trailer",
);
const headerName = fc.oneof(
  { weight: 5, arbitrary: tokenName },
  { weight: 1, arbitrary: fc.constantFrom("", " host", "host ", "ho st", "hoSt", "x\0y", "x:y", "(", "é", "\x7f") },
  { weight: 1, arbitrary: long("x") },
  { weight: 1, arbitrary: bytes(8) },
);
const headerValue = fc.oneof(
  {
    weight: 5,
    arbitrary: fc.constantFrom(
      "x",
      "localhost",
      "application/json",
      "application/proto",
      "application/grpc",
      "application/grpc-web+proto",
      "application/connect+json",
      "Bearer x",
      "https://evil.example",
      "POST",
      "100-continue",
      "h2c",
      "websocket",
      "upgrade",
      "close",
      "trailers",
      "gzip",
      "br",
      "1",
      "0",
      "-1",
      "999999999999",
    ),
  },
  { weight: 1, arbitrary: fc.constantFrom("", " ", "a\0b", "a\rb", "a\nb", "line\r\n folded", "line\r\n\tfolded", "\u00ff\u00fe", "%00") },
  { weight: 1, arbitrary: long("v") },
  { weight: 1, arbitrary: bytes(30) },
);
const header = fc.tuple(headerName, fc.constantFrom(": ", ":", " : ", ":  "), headerValue).map(([n, sep, v]) => `${n}${sep}${v}`);

function requestHead(line: string, headers: string[], end: string): string {
  return `${line}${end}${headers.map((h) => h + end).join("")}${end}`;
}

/** The request line itself: methods, targets, versions, spacing and line ends. */
export function requestLineCase(routes: readonly string[]): fc.Arbitrary<RawCase> {
  return fc
    .record({
      m: method,
      p: pathShape(routes),
      v: version,
      sp: fc.constantFrom(" ", " ", "  ", "\t"),
      e: eol,
      leading: fc.constantFrom("", "", "\r\n", "\r\n\r\n"),
      half: fc.boolean(),
    })
    .map(({ m, p, v, sp, e, leading, half }) => ({
      category: "HTTP/1 request lines and versions",
      chunks: [Buffer.from(leading + requestHead(v === "" ? `${m}${sp}${p}` : `${m}${sp}${p}${sp}${v}`, ["Host: x"], e), "latin1")],
      halfClose: half,
    }));
}

/** Header names and values: invalid characters, obs-fold, NUL, huge, many, duplicated. */
export function headerCase(routes: readonly string[]): fc.Arbitrary<RawCase> {
  return fc
    .record({
      m: fc.constantFrom("GET", "HEAD", "POST", "OPTIONS"),
      p: fc.constantFrom(...routes),
      v: fc.constantFrom("HTTP/1.1", "HTTP/1.0", "HTTP/2.0"),
      hs: fc.array(header, { maxLength: 8 }),
      many: fc.constantFrom(0, 0, 0, 150, 2000),
      host: fc.constantFrom(["Host: x"], [], ["Host: x", "Host: y"], ["Host:"], ["Host: a b"]),
      half: fc.boolean(),
    })
    .map(({ m, p, v, hs, many, host, half }) => ({
      category: "HTTP/1 header names and values",
      chunks: [Buffer.from(requestHead(`${m} ${p} ${v}`, [...host, ...hs, ...Array.from({ length: many }, (_, i) => `x-h${i}: ${i}`)], "\r\n"), "latin1")],
      halfClose: half,
    }));
}

/** A body framed by the given length headers. */
const lengthHeaders = fc.oneof(
  fc.constantFrom(
    ["Content-Length: 2"],
    ["Content-Length: 2", "Content-Length: 2"],
    ["Content-Length: 2", "Content-Length: 5"],
    ["Content-Length: 2, 2"],
    ["Content-Length: 2, 3"],
    ["Content-Length: -1"],
    ["Content-Length: +2"],
    ["Content-Length: 0x2"],
    ["Content-Length: 2 "],
    ["Content-Length: 99999999999999999999"],
    ["Content-Length: 9007199254740993"],
    ["Content-Length:"],
    ["Content-Length: 1e2"],
    ["Content-Length: 2", "Transfer-Encoding: chunked"],
    ["Transfer-Encoding: chunked", "Content-Length: 2"],
    ["Transfer-Encoding: chunked"],
    ["Transfer-Encoding: chunked", "Transfer-Encoding: chunked"],
    ["Transfer-Encoding: gzip, chunked"],
    ["Transfer-Encoding: chunked, gzip"],
    ["Transfer-Encoding: identity"],
    ["Transfer-Encoding: chunked "],
    ["Transfer-Encoding: xchunked"],
    ["Transfer-Encoding : chunked"],
    ["Transfer-Encoding:\tchunked"],
    ["Transfer-Encoding: CHUNKED"],
    ["Transfer-Encoding:\r\n chunked"],
    ["Content-Length: 1000"],
    [],
  ),
);
const chunkedBody = fc.oneof(
  fc.constantFrom(
    "2\r\n{}\r\n0\r\n\r\n",
    "ffffffffffffffff\r\n{}\r\n0\r\n\r\n",
    "-1\r\n{}\r\n0\r\n\r\n",
    "2;ext=1\r\n{}\r\n0\r\n\r\n",
    "2\r\n{}0\r\n\r\n",
    "2\n{}\n0\n\n",
    "0\r\nTrailer: x\r\n\r\n",
    "1ffffffff\r\n",
    "g\r\n{}\r\n0\r\n\r\n",
    " 2\r\n{}\r\n0\r\n\r\n",
    "2 \r\n{}\r\n0\r\n\r\n",
    "0x2\r\n{}\r\n0\r\n\r\n",
    "2\r\n{}\r\n",
    "",
    "{}",
    "3\r\n{}\r\n0\r\n\r\n",
  ),
  fc.tuple(fc.array(fc.oneof(hex, anyByte), { maxLength: 20 }), bytes(20)).map(([size, data]) => `${size.join("")}\r\n${data}\r\n0\r\n\r\n`),
);

/** Duplicate and conflicting Content-Length and Transfer-Encoding, chunked bodies with bad sizes, smuggled second requests. */
export function lengthCase(routes: readonly string[]): fc.Arbitrary<RawCase> {
  return fc
    .record({
      m: fc.constantFrom("POST", "POST", "GET", "PUT"),
      p: fc.constantFrom(...routes),
      lh: lengthHeaders,
      body: fc.oneof(chunkedBody, fc.constantFrom("{}", "", "{}GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n", "{}0\r\n\r\nGET /ui/% HTTP/1.1\r\nHost: x\r\n\r\n")),
      half: fc.boolean(),
    })
    .map(({ m, p, lh, body, half }) => ({
      category: "HTTP/1 length headers and chunking",
      chunks: [Buffer.from(requestHead(`${m} ${p} HTTP/1.1`, ["Host: x", "Content-Type: application/json", ...lh], "\r\n") + body, "latin1")],
      halfClose: half,
    }));
}

/** Paths on every route with ordinary methods, so the handlers behind the parser see them. */
export function pathCase(routes: readonly string[]): fc.Arbitrary<RawCase> {
  return fc
    .record({
      m: fc.constantFrom("GET", "GET", "HEAD", "POST", "OPTIONS"),
      p: pathShape(routes),
      v: fc.constantFrom("HTTP/1.1", "HTTP/1.1", "HTTP/1.0", "HTTP/2.0"),
      origin: fc.boolean(),
      half: fc.boolean(),
    })
    .map(({ m, p, v, origin, half }) => ({
      category: "paths and percent-encodings",
      chunks: [
        Buffer.from(
          requestHead(
            `${m} ${p} ${v}`,
            [
              "Host: x",
              ...(origin ? ["Origin: https://evil.example", "Access-Control-Request-Method: POST"] : []),
              ...(m === "POST" ? ["Content-Type: application/json", "Content-Length: 2"] : []),
            ],
            "\r\n",
          ) + (m === "POST" ? "{}" : ""),
          "latin1",
        ),
      ],
      halfClose: half,
    }));
}

/** RPC calls over HTTP/1.1 with real and broken tokens, content types, compression and bodies. */
export function rpcCase(token: string): fc.Arbitrary<RawCase> {
  const json = Buffer.from('{"pageSize":1}');
  const gz = gzipSync(json);
  const body = fc.oneof(
    fc.constantFrom(
      json,
      Buffer.from("{}"),
      Buffer.from(""),
      Buffer.from("{"),
      Buffer.from("null"),
      Buffer.from('{"pageSize":"x"}'),
      gz,
      gz.subarray(0, gz.length - 6),
      gz.subarray(0, 10),
      Buffer.from([0, 0, 0, 0, 2, 0x08, 0x01]),
      Buffer.from([0x80, 0, 0, 0, 0]),
    ),
    fc.uint8Array({ maxLength: 64 }).map((a) => Buffer.from(a)),
  );
  return fc
    .record({
      p: fc.constantFrom(...RPC_PATHS),
      ct: fc.constantFrom(
        "application/json",
        "application/proto",
        "application/grpc-web+proto",
        "application/grpc-web-text",
        "application/connect+json",
        "application/grpc",
        "text/plain",
        "application/json; charset=latin1",
      ),
      auth: fc.constantFrom(`Bearer ${token}`, `Bearer ${token}`, "Bearer x.y.z", "Basic eA==", `Bearer ${token.slice(0, -3)}`, "", `bearer ${token}`),
      ce: fc.constantFrom(undefined, undefined, "gzip", "br", "deflate", "x"),
      extra: fc.array(
        fc.constantFrom(
          "Connect-Protocol-Version: 1",
          "Connect-Protocol-Version: 2",
          "Connect-Timeout-Ms: 0",
          "Connect-Timeout-Ms: 99999999999",
          "Grpc-Timeout: 1n",
          "Grpc-Timeout: 9999999999H",
          "X-Grpc-Web: 1",
          "Te: trailers",
          "Connect-Content-Encoding: gzip",
        ),
        { maxLength: 3 },
      ),
      b: body,
      chunked: fc.boolean(),
      half: fc.boolean(),
    })
    .map(({ p, ct, auth, ce, extra, b, chunked, half }) => {
      const headers = ["Host: x", `Content-Type: ${ct}`, ...(auth ? [`Authorization: ${auth}`] : []), ...(ce ? [`Content-Encoding: ${ce}`] : []), ...extra];
      const framing = chunked ? ["Transfer-Encoding: chunked"] : [`Content-Length: ${b.length}`];
      const payload = chunked ? Buffer.concat([Buffer.from(`${b.length.toString(16)}\r\n`), b, Buffer.from("\r\n0\r\n\r\n")]) : b;
      return {
        category: "RPC calls over HTTP/1.1",
        chunks: [Buffer.from(requestHead(`POST ${p} HTTP/1.1`, [...headers, ...framing], "\r\n"), "latin1"), payload],
        halfClose: half,
      };
    });
}

/** Every HTTP/1 generator, weighted; RPC calls only where a token makes sense. */
export function http1Case(routes: readonly string[], token: string | undefined): fc.Arbitrary<RawCase> {
  return fc.oneof(
    { weight: 3, arbitrary: requestLineCase(routes) },
    { weight: 3, arbitrary: headerCase(routes) },
    { weight: 2, arbitrary: lengthCase(routes) },
    { weight: 4, arbitrary: pathCase(routes) },
    ...(token === undefined ? [] : [{ weight: 2, arbitrary: rpcCase(token) }]),
  );
}
