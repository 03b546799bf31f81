import net from "node:net";

/** What a raw connection saw: the bytes answered, whether the server closed it, and when. */
export interface RawOutcome {
  text: string;
  closedByServer: boolean;
  ms: number;
}

/**
 * Opens a TCP connection, writes `payload` (possibly nothing) and waits until
 * the server closes the connection or `waitMs` passes (then it is closed here).
 */
export function rawExchange(port: number, payload: string | Buffer, waitMs: number): Promise<RawOutcome> {
  return new Promise((resolve) => {
    const started = Date.now();
    const chunks: Buffer[] = [];
    let timer: NodeJS.Timeout | undefined;
    const socket = net.connect(port, "127.0.0.1", () => {
      if (payload.length > 0) socket.write(payload);
    });
    const finish = (closedByServer: boolean): void => {
      clearTimeout(timer);
      socket.destroy();
      resolve({ text: Buffer.concat(chunks).toString("latin1"), closedByServer, ms: Date.now() - started });
    };
    socket.on("data", (d: Buffer) => chunks.push(d));
    socket.on("error", () => {});
    socket.on("close", () => finish(true));
    timer = setTimeout(() => finish(false), waitMs);
  });
}

/** The status code of the first HTTP/1.x response in `text`, or undefined. */
export function statusOf(text: string): number | undefined {
  const m = /^HTTP\/1\.[01] (\d{3})/.exec(text);
  return m ? Number(m[1]) : undefined;
}
