// A bounded loop of new TCP connections, one after another, each closed at
// once: what a brute force looks like to a SYN meter. Prints one JSON line
// with how many connected, were refused, timed out or failed otherwise.
//   node connect-loop.mjs HOST PORT COUNT [LOCAL_ADDRESS] [TIMEOUT_MS]
import { connect } from 'node:net';

const [host, port, count, localAddress, timeoutMs = '1000'] = process.argv.slice(2);
const n = Math.min(Number(count), 1000);
const tally = { connected: 0, refused: 0, timeout: 0, other: 0 };
const once = () =>
  new Promise((resolve) => {
    const sock = connect({ host, port: Number(port), ...(localAddress ? { localAddress } : {}) });
    const done = (what) => {
      tally[what]++;
      sock.destroy();
      resolve();
    };
    sock.setTimeout(Number(timeoutMs), () => done('timeout'));
    sock.on('connect', () => done('connected'));
    sock.on('error', (err) => done(err.code === 'ECONNREFUSED' || err.code === 'ECONNRESET' ? 'refused' : 'other'));
  });
for (let i = 0; i < n; i++) await once();
process.stdout.write(JSON.stringify(tally) + '\n');
