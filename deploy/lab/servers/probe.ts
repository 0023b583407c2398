// One TCP connection attempt: prints connected, refused, unreachable,
// timeout or error:CODE, and exits 0 whatever the outcome. The lab runs it
// inside a namespace to show what a packet from there experiences.
//   node probe.js HOST PORT [TIMEOUT_MS]
import { connect } from 'node:net';

const [host, port, timeoutMs = '1500'] = process.argv.slice(2);
const sock = connect({ host: host ?? '', port: Number(port) });
const done = (word: string) => {
  process.stdout.write(`${word}\n`);
  sock.destroy();
  process.exit(0);
};
sock.setTimeout(Number(timeoutMs), () => done('timeout'));
sock.on('connect', () => done('connected'));
sock.on('error', (err: NodeJS.ErrnoException) => {
  if (err.code === 'ECONNREFUSED' || err.code === 'ECONNRESET') done('refused');
  else if (['EHOSTUNREACH', 'ENETUNREACH', 'EACCES', 'EPERM'].includes(err.code ?? '')) done('unreachable');
  else done(`error:${err.code}`);
});
