/**
 * HTTP/2 written by hand (RFC 9113 frames, RFC 7541 literals without
 * Huffman), so a test can send what no client library would: wrong lengths,
 * frames on stream 0, header blocks that are not HPACK at all.
 */
export const PREFACE = Buffer.from("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n");

export const FrameType = {
  DATA: 0x0,
  HEADERS: 0x1,
  PRIORITY: 0x2,
  RST_STREAM: 0x3,
  SETTINGS: 0x4,
  PUSH_PROMISE: 0x5,
  PING: 0x6,
  GOAWAY: 0x7,
  WINDOW_UPDATE: 0x8,
  CONTINUATION: 0x9,
} as const;

export const Flag = { END_STREAM: 0x1, ACK: 0x1, END_HEADERS: 0x4, PADDED: 0x8, PRIORITY: 0x20 } as const;

/**
 * One frame. `declaredLength` writes a length field that differs from the
 * payload actually sent.
 */
export function frame(type: number, flags: number, streamId: number, payload: Buffer = Buffer.alloc(0), declaredLength = payload.length): Buffer {
  const head = Buffer.alloc(9);
  head.writeUIntBE(declaredLength & 0xffffff, 0, 3);
  head[3] = type & 0xff;
  head[4] = flags & 0xff;
  head.writeUInt32BE(streamId >>> 0, 5);
  return Buffer.concat([head, payload]);
}

export function settings(entries: Array<[id: number, value: number]> = [], ack = false): Buffer {
  const payload = Buffer.alloc(entries.length * 6);
  entries.forEach(([id, value], i) => {
    payload.writeUInt16BE(id & 0xffff, i * 6);
    payload.writeUInt32BE(value >>> 0, i * 6 + 2);
  });
  return frame(FrameType.SETTINGS, ack ? Flag.ACK : 0, 0, payload);
}

export function u32(value: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(value >>> 0);
  return b;
}

/** An HPACK integer with an N-bit prefix (RFC 7541 §5.1). */
function hpackInt(value: number, prefixBits: number, firstByte: number): Buffer {
  const max = (1 << prefixBits) - 1;
  if (value < max) return Buffer.from([firstByte | value]);
  const bytes = [firstByte | max];
  let rest = value - max;
  while (rest >= 128) {
    bytes.push((rest % 128) + 128);
    rest = Math.floor(rest / 128);
  }
  bytes.push(rest);
  return Buffer.from(bytes);
}

function hpackString(value: Buffer): Buffer {
  return Buffer.concat([hpackInt(value.length, 7, 0), value]);
}

/** A header block of literals without indexing, any bytes in names and values. */
export function headerBlock(headers: Array<[name: string | Buffer, value: string | Buffer]>): Buffer {
  return Buffer.concat(
    headers.flatMap(([name, value]) => [
      Buffer.from([0x00]),
      hpackString(Buffer.from(name as string, "latin1")),
      hpackString(Buffer.from(value as string, "latin1")),
    ]),
  );
}

/** A complete HEADERS frame (END_HEADERS set) carrying `headers` as literals. */
export function requestHeaders(streamId: number, headers: Array<[string | Buffer, string | Buffer]>, endStream = false): Buffer {
  return frame(FrameType.HEADERS, Flag.END_HEADERS | (endStream ? Flag.END_STREAM : 0), streamId, headerBlock(headers));
}

/** The preface and an empty SETTINGS: what every client sends first. */
export function opening(): Buffer {
  return Buffer.concat([PREFACE, settings()]);
}
