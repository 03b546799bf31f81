/** Short forms of raw-socket.ts for plaintext cases on 127.0.0.1 that wait for the server to close. */
import { http1Status, rawExchange as exchange } from "./raw-socket.js";

/** What a raw connection saw: the bytes answered (latin1), whether the server closed it, and when. */
export interface RawOutcome {
  text: string;
  closedByServer: boolean;
  ms: number;
}

/** Writes `payload` (possibly nothing) and waits until the server closes the connection or `waitMs` passes. */
export async function rawExchange(port: number, payload: string, waitMs: number): Promise<RawOutcome> {
  const chunks = payload.length > 0 ? [Buffer.from(payload, "latin1")] : [];
  const outcome = await exchange({ host: "127.0.0.1", port }, { chunks, untilClose: true }, waitMs);
  return { text: outcome.received.toString("latin1"), closedByServer: outcome.end === "closed", ms: outcome.ms };
}

/** The status code of the first HTTP/1.x response in `text`, or undefined. */
export function statusOf(text: string): number | undefined {
  return http1Status(Buffer.from(text, "latin1"));
}
