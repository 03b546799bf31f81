/**
 * What the listener fuzzing sends below HTTP/1: truncated and corrupted
 * HTTP/2 prefaces, hand-written HTTP/2 frames after a valid preface (bad
 * lengths, types, stream ids, HPACK garbage, bodies that never end), random
 * bytes, and TLS records that are not TLS.
 */
import fc from "fast-check";
import { Flag, FrameType, frame, headerBlock, opening, PREFACE, requestHeaders, settings, u32 } from "../helpers/h2-frames.js";
import { pathShape, RPC_PATHS, type RawCase } from "./listener-cases.js";

const bytes = (max: number): fc.Arbitrary<Buffer> => fc.uint8Array({ maxLength: max }).map((a) => Buffer.from(a));
const streamId = fc.oneof(fc.constantFrom(0, 1, 1, 1, 2, 3, 0x7fffffff, 0x80000001, 0xffffffff), fc.integer({ min: 0, max: 0xffffffff }));

function h2(category: string, frames: fc.Arbitrary<readonly Buffer[]>, preface = true): fc.Arbitrary<RawCase> {
  return fc.tuple(frames, fc.boolean()).map(([fs, half]) => ({ category, chunks: preface ? [opening(), ...fs] : [...fs], halfClose: half }));
}

/** Request headers an ordinary client would send (Node validates none of the bytes we put in). */
function request(path: string, extra: Array<[string, string]> = [], method = "POST"): Array<[string, string]> {
  return [[":method", method], [":scheme", "http"], [":authority", "x"], [":path", path], ["content-type", "application/grpc"], ["te", "trailers"], ...extra];
}

/** The HTTP/2 preface cut short or changed, alone or followed by HTTP/1 or junk. */
export const prefaceCase: fc.Arbitrary<RawCase> = fc
  .record({
    cut: fc.integer({ min: 0, max: PREFACE.length - 1 }),
    flip: fc.option(fc.integer({ min: 0, max: PREFACE.length - 1 })),
    tail: fc.constantFrom("", "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n", "\0\0\0"),
    half: fc.boolean(),
  })
  .map(({ cut, flip, tail, half }) => {
    const p = Buffer.from(PREFACE);
    if (flip !== null) p[flip] = p[flip]! ^ 0x20;
    return { category: "truncated or corrupted HTTP/2 prefaces", chunks: [flip === null ? p.subarray(0, cut) : p, Buffer.from(tail)], halfClose: half };
  });

const settingsFrames = fc.oneof(
  fc
    .array(
      fc.tuple(
        fc.integer({ min: 0, max: 10 }),
        fc.oneof(fc.constantFrom(0, 1, 2, 16383, 16384, 16777215, 16777216, 0x7fffffff, 0x80000000, 0xffffffff), fc.nat()),
      ),
      { maxLength: 6 },
    )
    .map((e) => [settings(e)]),
  fc.constantFrom(
    [settings([], true)],
    [frame(FrameType.SETTINGS, Flag.ACK, 0, Buffer.alloc(6))],
    [frame(FrameType.SETTINGS, 0, 0, Buffer.alloc(5))],
    [frame(FrameType.SETTINGS, 0, 1, Buffer.alloc(0))],
    [frame(FrameType.SETTINGS, 0, 0, Buffer.alloc(6), 0xffffff)],
    Array.from({ length: 300 }, () => settings([[1, 4096]])),
  ),
);

const garbageHpack = fc.oneof(
  bytes(64),
  fc.constantFrom(
    Buffer.from([0xff, 0xff, 0xff, 0xff, 0xff, 0xff]),
    Buffer.from([0x3f, 0xe1, 0xff, 0xff, 0xff, 0x0f]),
    Buffer.from([0x00, 0x7f]),
    Buffer.from([0xbe]),
    Buffer.from([0x20]),
    Buffer.from([0x00, 0x00, 0x00]),
  ),
);

const headersFrames = fc.oneof(
  fc.tuple(garbageHpack, streamId, fc.integer({ min: 0, max: 255 })).map(([b, id, flags]) => [frame(FrameType.HEADERS, flags, id, b)]),
  fc.constantFrom(
    [frame(FrameType.HEADERS, Flag.END_HEADERS | Flag.PADDED, 1, Buffer.from([200, 0x82]))],
    [frame(FrameType.HEADERS, Flag.END_HEADERS | Flag.PRIORITY, 1, Buffer.concat([u32(1), Buffer.from([16]), headerBlock(request("/healthz", [], "GET"))]))],
    [frame(FrameType.HEADERS, 0, 1, headerBlock(request("/healthz", [], "GET")))],
    [frame(FrameType.HEADERS, 0, 1, headerBlock(request("/healthz", [], "GET"))), frame(FrameType.HEADERS, Flag.END_HEADERS, 3, Buffer.from([0x82]))],
    [frame(FrameType.CONTINUATION, Flag.END_HEADERS, 1, Buffer.from([0x82]))],
    [
      frame(FrameType.HEADERS, 0, 1, Buffer.alloc(0)),
      ...Array.from({ length: 2000 }, () => frame(FrameType.CONTINUATION, 0, 1, headerBlock([["x-a", "b".repeat(60)]]))),
    ],
    [requestHeaders(1, request("/healthz", [], "GET"), true), requestHeaders(1, request("/healthz", [], "GET"), true)],
    [requestHeaders(2, request("/healthz", [], "GET"), true)],
    [requestHeaders(3, request("/healthz", [], "GET"), true), requestHeaders(1, request("/healthz", [], "GET"), true)],
    [requestHeaders(1, [[":path", "/healthz"]], true)],
    [requestHeaders(1, [...request("/healthz", [], "GET"), [":method", "GET"]], true)],
    [requestHeaders(1, [["x", "y"], ...request("/healthz", [], "GET")], true)],
    [requestHeaders(1, [...request("/healthz", [], "GET"), ["Upper", "x"]], true)],
    [requestHeaders(1, [...request("/healthz", [], "GET"), ["connection", "keep-alive"]], true)],
    [requestHeaders(1, [...request("/healthz", [], "GET"), ["x", "a\r\nb"]], true)],
    [requestHeaders(1, [...request("/healthz", [], "GET"), ["", "x"]], true)],
    [requestHeaders(1, [...request("/healthz", [], "GET"), ["x", "v".repeat(70_000)]], true)],
    [
      requestHeaders(
        1,
        request("/work.v1.CapacityService/ListCapacities", [
          ["content-length", "5"],
          ["content-length", "7"],
        ]),
        true,
      ),
    ],
  ),
);

/** Requests with shaped paths (named h2c cases among them: HEAD /ui/%). */
function requestFrames(token: string | undefined): fc.Arbitrary<Buffer[]> {
  const auth: Array<[string, string]> = token === undefined ? [] : [["authorization", `Bearer ${token}`]];
  return fc
    .record({
      m: fc.constantFrom("GET", "HEAD", "POST", "OPTIONS", "get", "CONNECT", "PRI", ""),
      p: pathShape(["/healthz", "/readyz", "/ui/", "/ui/index.html", ...RPC_PATHS]),
      ct: fc.constantFrom("application/grpc", "application/json", "application/proto", "application/grpc-web+proto", "x"),
      body: bytes(40),
      end: fc.boolean(),
    })
    .map(({ m, p, ct, body, end }) => [
      requestHeaders(
        1,
        [[":method", m], [":scheme", "http"], [":authority", "x"], [":path", p], ["content-type", ct], ["te", "trailers"], ...auth],
        m === "GET" || m === "HEAD",
      ),
      ...(m === "GET" || m === "HEAD" ? [] : [frame(FrameType.DATA, end ? Flag.END_STREAM : 0, 1, body)]),
    ]);
}

const dataFrames = fc.oneof(
  fc
    .tuple(streamId, fc.integer({ min: 0, max: 255 }), bytes(40), fc.option(fc.integer({ min: 0, max: 0xffffff })))
    .map(([id, flags, b, declared]) => [requestHeaders(1, request(RPC_PATHS[1]!)), frame(FrameType.DATA, flags, id, b, declared ?? b.length)]),
  fc.constantFrom(
    [frame(FrameType.DATA, Flag.END_STREAM, 0, Buffer.from("x"))],
    [frame(FrameType.DATA, 0, 1, Buffer.from("x"))],
    [requestHeaders(1, request(RPC_PATHS[1]!)), frame(FrameType.DATA, Flag.PADDED, 1, Buffer.from([10, 1]))],
    [requestHeaders(1, request(RPC_PATHS[1]!)), frame(FrameType.DATA, 0, 1, Buffer.alloc(70_000))],
    [requestHeaders(1, request(RPC_PATHS[1]!)), ...Array.from({ length: 10 }, () => frame(FrameType.DATA, 0, 1, Buffer.alloc(16_384)))],
    [requestHeaders(1, request(RPC_PATHS[1]!)), frame(FrameType.DATA, 0, 1, Buffer.from([0, 0, 0, 0, 200]))],
    [requestHeaders(1, request(RPC_PATHS[9]!)), frame(FrameType.DATA, 0, 1, Buffer.from([0, 0, 0, 0, 0]))],
    [requestHeaders(1, request(RPC_PATHS[1]!), true), frame(FrameType.DATA, Flag.END_STREAM, 1, Buffer.from("late"))],
  ),
);

const controlFrames = fc.oneof(
  fc
    .tuple(
      fc.constantFrom(FrameType.RST_STREAM, FrameType.GOAWAY, FrameType.WINDOW_UPDATE, FrameType.PING, FrameType.PRIORITY, FrameType.PUSH_PROMISE),
      fc.integer({ min: 0, max: 255 }),
      streamId,
      bytes(20),
    )
    .map(([t, f, id, b]) => [frame(t, f, id, b)]),
  fc.constantFrom(
    [frame(FrameType.WINDOW_UPDATE, 0, 0, u32(0))],
    [requestHeaders(1, request(RPC_PATHS[1]!)), frame(FrameType.WINDOW_UPDATE, 0, 1, u32(0))],
    [frame(FrameType.WINDOW_UPDATE, 0, 0, u32(0x7fffffff)), frame(FrameType.WINDOW_UPDATE, 0, 0, u32(0x7fffffff))],
    [frame(FrameType.RST_STREAM, 0, 0, u32(8))],
    [frame(FrameType.RST_STREAM, 0, 5, u32(8))],
    [frame(FrameType.GOAWAY, 0, 0, Buffer.concat([u32(0), u32(0)])), requestHeaders(1, request("/healthz", [], "GET"), true)],
    [frame(FrameType.GOAWAY, 0, 0, Buffer.alloc(3))],
    [frame(FrameType.PING, 0, 0, Buffer.alloc(7))],
    [frame(FrameType.PING, Flag.ACK, 0, Buffer.alloc(8))],
    Array.from({ length: 2000 }, () => frame(FrameType.PING, 0, 0, Buffer.alloc(8))),
    [frame(FrameType.PRIORITY, 0, 1, Buffer.concat([u32(1), Buffer.from([0])]))],
    [frame(FrameType.PUSH_PROMISE, Flag.END_HEADERS, 1, Buffer.concat([u32(2), Buffer.from([0x82])]))],
    [frame(0xfa, 0xff, 1, Buffer.from("unknown type"))],
    // Rapid reset: open and cancel a stream, many times.
    Array.from({ length: 500 }, (_, i) => [requestHeaders(2 * i + 1, request(RPC_PATHS[1]!)), frame(FrameType.RST_STREAM, 0, 2 * i + 1, u32(8))]).flat(),
    // More streams than the server allows, none finished.
    Array.from({ length: 150 }, (_, i) => requestHeaders(2 * i + 1, request(RPC_PATHS[1]!))),
  ),
);

const randomFrames = fc.array(
  fc
    .tuple(
      fc.integer({ min: 0, max: 12 }),
      fc.integer({ min: 0, max: 255 }),
      streamId,
      bytes(48),
      fc.option(fc.integer({ min: 0, max: 0xffffff }), { freq: 4 }),
    )
    .map(([t, f, id, b, declared]) => frame(t, f, id, b, declared ?? b.length)),
  { minLength: 1, maxLength: 6 },
);

/** Every HTTP/2 generator after a valid preface, plus prefaces themselves. */
export function http2Case(token: string | undefined): fc.Arbitrary<RawCase> {
  return fc.oneof(
    { weight: 1, arbitrary: prefaceCase },
    { weight: 1, arbitrary: h2("HTTP/2 SETTINGS", settingsFrames) },
    { weight: 2, arbitrary: h2("HTTP/2 HEADERS and HPACK garbage", headersFrames) },
    { weight: 3, arbitrary: h2("HTTP/2 requests with shaped paths", requestFrames(token)) },
    { weight: 2, arbitrary: h2("HTTP/2 DATA and bodies that never end", dataFrames) },
    { weight: 2, arbitrary: h2("HTTP/2 RST, GOAWAY, PING, WINDOW_UPDATE, floods", controlFrames) },
    { weight: 2, arbitrary: h2("HTTP/2 random frames", randomFrames) },
    {
      weight: 1,
      arbitrary: h2(
        "HTTP/2 random frames without SETTINGS",
        randomFrames.map((fs) => [PREFACE, ...fs]),
        false,
      ),
    },
  );
}

/** Random bytes, and random bytes that start like HTTP. */
export const randomBytesCase: fc.Arbitrary<RawCase> = fc
  .record({ head: fc.constantFrom("", "", "GET ", "POST /", "PRI * HTTP/2.0\r\n", "\x16\x03\x01", "HTTP/1.1 200 OK\r\n"), b: bytes(512), half: fc.boolean() })
  .map(({ head, b, half }) => ({ category: "random bytes", chunks: [Buffer.concat([Buffer.from(head, "latin1"), b])], halfClose: half }));

/** For a TLS port: TLS records that are not, a real ClientHello cut or flipped, plaintext HTTP. */
export function tlsGarbageCase(clientHello: Buffer): fc.Arbitrary<RawCase> {
  return fc.oneof(
    fc
      .tuple(fc.integer({ min: 0, max: clientHello.length - 1 }), fc.boolean())
      .map(([cut, half]) => ({ category: "truncated TLS ClientHello", chunks: [clientHello.subarray(0, cut)], halfClose: half })),
    fc.tuple(fc.array(fc.tuple(fc.nat(), fc.integer({ min: 1, max: 255 })), { minLength: 1, maxLength: 4 }), fc.boolean()).map(([flips, half]) => {
      const hello = Buffer.from(clientHello);
      for (const [at, x] of flips) hello[at % hello.length] = hello[at % hello.length]! ^ x;
      return { category: "corrupted TLS ClientHello", chunks: [hello], halfClose: half };
    }),
    fc
      .tuple(
        fc.constantFrom(0x14, 0x15, 0x16, 0x17, 0x18, 0x80),
        fc.constantFrom(0x0300, 0x0301, 0x0303, 0x0304, 0xffff),
        fc.integer({ min: 0, max: 0xffff }),
        bytes(64),
        fc.boolean(),
      )
      .map(([type, ver, len, b, half]) => {
        const head = Buffer.from([type, ver >> 8, ver & 0xff, len >> 8, len & 0xff]);
        return { category: "TLS records with bad types and lengths", chunks: [Buffer.concat([head, b])], halfClose: half };
      }),
    fc
      .constantFrom("GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n", "GET /healthz HTTP/2.0\r\nHost: x\r\n\r\n", PREFACE.toString("latin1"))
      .map((text) => ({ category: "plaintext on the TLS port", chunks: [Buffer.from(text, "latin1")], halfClose: false })),
  );
}
