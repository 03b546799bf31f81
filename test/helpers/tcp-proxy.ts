import net from "node:net";
import { MYSQL_URL } from "./databases.js";

/** A TCP forwarder the test can cut and restore, to make a database vanish and come back. */
export interface TcpProxy {
  port: number;
  /** Refuses new connections and kills open ones. */
  cut(): Promise<void>;
  /** Accepts and forwards again (same port). */
  restore(): Promise<void>;
  close(): Promise<void>;
}

export async function startTcpProxy(targetHost: string, targetPort: number): Promise<TcpProxy> {
  const sockets = new Set<net.Socket>();
  const make = (): net.Server =>
    net.createServer((client) => {
      const upstream = net.connect(targetPort, targetHost);
      for (const s of [client, upstream]) {
        sockets.add(s);
        s.on("close", () => sockets.delete(s));
        s.on("error", () => {
          client.destroy();
          upstream.destroy();
        });
      }
      client.pipe(upstream).pipe(client);
    });
  let server = make();
  const listen = (port: number): Promise<number> =>
    new Promise((resolve, reject) => {
      server.once("error", reject);
      server.listen(port, "127.0.0.1", () => resolve((server.address() as net.AddressInfo).port));
    });
  const port = await listen(0);
  const stop = async (): Promise<void> => {
    const closed = new Promise<void>((r) => server.close(() => r()));
    for (const s of sockets) s.destroy();
    await closed;
  };
  return {
    port,
    cut: stop,
    async restore() {
      server = make();
      await listen(port);
    },
    close: stop,
  };
}

/** A proxy in front of the test MySQL, and the database URL that goes through it. */
export interface MysqlProxy extends TcpProxy {
  /** MYSQL_URL with the proxy's port: hand it to the server as its database. */
  url: string;
}

/** Puts a cuttable proxy in front of the suites' MySQL (MYSQL_URL): the database can then vanish and come back. */
export async function startMysqlProxy(): Promise<MysqlProxy> {
  const target = new URL(MYSQL_URL);
  const proxy = await startTcpProxy(target.hostname, Number(target.port || 3306));
  const viaProxy = new URL(MYSQL_URL);
  viaProxy.port = String(proxy.port);
  return Object.assign(proxy, { url: viaProxy.toString() });
}
