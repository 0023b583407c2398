import { parentPort, workerData } from 'node:worker_threads';
import { asCordonError } from '../../proto/runtime/CordonError.js';
import type { IntakeLimits } from './limits.js';
import type { WorkerReply } from './ParsePool.js';
import { parseReportInProcess } from './parseReport.js';
import { ExcerptPacker } from './sharedExcerpt.js';

/**
 * A ParsePool worker: parses one report at a time with parseReportInProcess
 * under the pool's limits and sends the result back: the complaints in
 * batches (each message is copied, and read on the pool's thread, as one
 * piece: batches let its event loop run in between), their excerpts packed
 * so that a feed's shared header crosses the thread boundary once.
 */
const BATCH = 5_000;
const port = parentPort;
if (!port) throw new Error('parseWorker runs as a worker thread of a ParsePool');
const { limits } = workerData as { limits: IntakeLimits };
const reply = (message: WorkerReply): void => port.postMessage(message);

port.on('message', (job: { id: number; raw: Uint8Array; filename: string | undefined }) => {
  const raw = Buffer.from(job.raw.buffer, job.raw.byteOffset, job.raw.byteLength);
  parseReportInProcess(raw, job.filename, limits).then(
    (result) => {
      const packer = new ExcerptPacker();
      for (let at = 0; at < result.complaints.length; at += BATCH) {
        const complaints = result.complaints.slice(at, at + BATCH);
        reply({ type: 'complaints', id: job.id, complaints, excerpts: packer.pack(complaints) });
      }
      reply({ type: 'done', id: job.id, result: { ...result, complaints: [] } });
    },
    (err: unknown) => {
      const e = asCordonError(err);
      reply({ type: 'failed', id: job.id, kind: e.kind, message: e.message });
    },
  );
});
reply({ type: 'ready' });
