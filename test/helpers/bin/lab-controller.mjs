// A real controller (dist/controller/createController.js) for system tests that
// run it inside a namespace. argv[2] is a JSON file:
//   { listen, pkiDir, hosts: [Host...] }
// stdin takes JSON lines {"host": ID, "enforcements": [...proto3 JSON of Enforcement]}
// and sets that host's desired state; stdout prints JSON lines for what the
// agents send: {"event":"listening","port"}, {"event":"report",...},
// {"event":"tamper",...}, {"event":"session",...}.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { pino } from 'pino';
import { Writable } from 'node:stream';
import { startController } from '../../../dist/controller/createController.js';
import { StaticInventory } from '../../../dist/controller/inventory/Inventory.js';
import { loadTlsMaterial } from '../../../dist/proto/runtime/tls.js';
import { Enforcement } from '../../../dist/proto/gen/cordon/v1/agent.js';

const opts = JSON.parse(readFileSync(process.argv[2], 'utf8'));
const emit = (obj) => process.stdout.write(JSON.stringify(obj, (_k, v) => (typeof v === 'bigint' ? v.toString() : v)) + '\n');

// The controller logs reports and tamper events; forward those as events.
const sink = new Writable({
  write(chunk, _enc, cb) {
    for (const line of chunk.toString().split('\n').filter(Boolean)) {
      const rec = JSON.parse(line);
      if (rec.msg === 'agent report') emit({ event: 'report', host: rec.host, generation: rec.generation, results: rec.results, error: rec.error });
      else if (rec.msg === 'agent reports tampering') emit({ event: 'tamper', host: rec.host, found: rec.found, restored: rec.restored });
      else if (rec.msg === 'agent connected' || rec.msg === 'agent disconnected' || rec.msg === 'agent stream ended') emit({ event: 'session', host: rec.host, msg: rec.msg });
    }
    cb();
  },
});

const controller = await startController({
  listen: opts.listen,
  tls: loadTlsMaterial({ ca: join(opts.pkiDir, 'ca.crt'), cert: join(opts.pkiDir, 'controller.crt'), key: join(opts.pkiDir, 'controller.key') }),
  revokedSerialsFile: join(opts.pkiDir, 'revoked-serials'),
  inventory: new StaticInventory(opts.hosts),
  staleAfterMissedHeartbeats: 3,
  pingIntervalMs: 30_000,
  helloTimeoutMs: 5_000,
  log: pino({ level: 'info' }, sink),
});
emit({ event: 'listening', port: controller.port });

createInterface({ input: process.stdin }).on('line', (line) => {
  const { host, enforcements } = JSON.parse(line);
  const state = controller.desired.set(host, enforcements.map((e) => Enforcement.fromJSON(e)));
  emit({ event: 'desired', host, generation: state.generation });
});
process.stdin.on('end', async () => {
  await controller.stop(1_000);
  process.exit(0);
});
process.on('SIGTERM', async () => {
  await controller.stop(1_000);
  process.exit(0);
});
