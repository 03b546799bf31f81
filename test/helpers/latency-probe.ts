/**
 * A caller in a process of its own: reads one capacity in a loop (gRPC, 5 ms
 * apart) until its stdin closes, then prints the latencies in ms as one JSON
 * line ({ latencies, errors }). Tests use it so that their own work (decoding
 * big answers) never lands in the measured latencies.
 *
 * Usage: node --import tsx test/helpers/latency-probe.ts BASE_URL TOKEN CAPACITY_ID
 */
import { createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { CapacityService } from "../../src/gen/work/v1/capacity_pb.js";

const [baseUrl, token, id] = process.argv.slice(2) as [string, string, string];
const client = createClient(CapacityService, createGrpcTransport({ baseUrl }));
const headers = { authorization: `Bearer ${token}` };
let running = true;
process.stdin.on("end", () => (running = false));
process.stdin.resume();
const latencies: number[] = [];
let errors = 0;
while (running) {
  const t0 = performance.now();
  try {
    await client.getCapacity({ id }, { headers, timeoutMs: 5000 });
  } catch {
    errors++;
  }
  latencies.push(performance.now() - t0);
  await new Promise((r) => setTimeout(r, 5));
}
process.stdout.write(`${JSON.stringify({ latencies, errors })}\n`);
