/**
 * Loaded into a server process by the crash tests (never by the service):
 * SIGUSR1 makes a promise rejection nobody handles, SIGUSR2 throws an
 * exception nobody catches, each from the event loop like a real bug would.
 */
process.on("SIGUSR1", () => {
  setImmediate(() => void Promise.reject(new Error("test fault: a rejection nobody handles")));
});
process.on("SIGUSR2", () => {
  setImmediate(() => {
    throw new Error("test fault: an exception nobody catches");
  });
});
