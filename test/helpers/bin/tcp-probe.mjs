// Connects to HOST PORT with a timeout and prints one word: connected,
// refused, unreachable or timeout. Exit code 0 whatever the outcome.
import { connect } from 'node:net';

const [host, port, timeoutMs = '1500'] = process.argv.slice(2);
const sock = connect({ host, port: Number(port) });
const done = (word) => {
  process.stdout.write(word + '\n');
  sock.destroy();
  process.exit(0);
};
sock.setTimeout(Number(timeoutMs), () => done('timeout'));
sock.on('connect', () => done('connected'));
sock.on('error', (err) => {
  if (err.code === 'ECONNREFUSED') done('refused');
  else if (['EHOSTUNREACH', 'ENETUNREACH', 'EACCES', 'EPERM'].includes(err.code)) done('unreachable');
  else done(`error:${err.code}`);
});
