// The probe of operator-path.mjs, the same for every system measured: a TCP
// connect to HOST:PORT every INTERVAL ms, each given TIMEOUT ms, for at most
// MAX_SECONDS. One line per finished attempt on stdout:
//   <start, ms on CLOCK_MONOTONIC> <1 connected | 0 failed>
// process.hrtime is CLOCK_MONOTONIC, so the bench compares these starts with
// its own clock. A line "ready" on stderr once the first attempt is made.
//   tcpProbe.mjs HOST PORT INTERVAL_MS TIMEOUT_MS MAX_SECONDS
import { connect } from 'node:net';

const [host, portArg, intervalArg, timeoutArg, maxArg] = process.argv.slice(2);
const port = Number(portArg);
const intervalMs = Number(intervalArg);
const timeoutMs = Number(timeoutArg);
const mono = () => Number(process.hrtime.bigint()) / 1e6;
const stopAt = mono() + Number(maxArg) * 1000;

function attempt() {
  const started = mono();
  let done = false;
  const finish = (ok) => {
    if (done) return;
    done = true;
    clearTimeout(timer);
    socket.destroy();
    process.stdout.write(`${started.toFixed(3)} ${ok ? 1 : 0}\n`);
  };
  const socket = connect({ host, port });
  const timer = setTimeout(() => finish(false), timeoutMs);
  socket.once('connect', () => finish(true));
  socket.once('error', () => finish(false));
}

let first = true;
const tick = setInterval(() => {
  if (mono() > stopAt) {
    clearInterval(tick);
    setTimeout(() => process.exit(0), timeoutMs + 50);
    return;
  }
  attempt();
  if (first) {
    first = false;
    process.stderr.write('ready\n');
  }
}, intervalMs);
process.stdin.on('end', () => process.exit(0));
process.stdin.resume();
