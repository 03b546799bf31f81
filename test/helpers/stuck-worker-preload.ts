/**
 * Loaded into a server process by the cluster tests (never by the service).
 * In a cluster worker, SIGUSR2 arms it ("stuck-worker armed <pid>" on
 * stderr); an armed worker's next SIGTERM blocks its thread for good, like a
 * worker wedged in a synchronous loop, so only SIGKILL ends it. Blocking with
 * Atomics.wait costs no CPU, unlike a busy loop.
 */
if (process.env.CAPACITY_CLUSTER_WORKER === "1") {
  let armed = false;
  process.on("SIGUSR2", () => {
    armed = true;
    process.stderr.write(`stuck-worker armed ${process.pid}\n`);
  });
  // Registered before main.ts's own handler, so it runs first and main's never gets to.
  process.on("SIGTERM", () => {
    if (armed) Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0);
  });
}
