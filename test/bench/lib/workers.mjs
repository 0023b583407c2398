// The benchmarks' simulated-agent worker processes (fleet-agents.mjs).

/**
 * Asks each worker still running to stop (its links close their streams)
 * and kills one that has not exited 8 s later. Each worker carries
 * `exited`, a promise of its exit.
 */
export function stopWorkers(workers) {
  const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
  return Promise.all(
    workers.map(async (w) => {
      if (w.exitCode !== null || w.signalCode !== null) return;
      w.send({ type: 'stop' });
      if ((await Promise.race([w.exited, sleep(8_000).then(() => 'timeout')])) === 'timeout') w.kill('SIGKILL');
    }),
  );
}
