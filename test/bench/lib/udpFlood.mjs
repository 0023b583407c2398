// The benchmarks' small-packet flood: iperf3 UDP, 64-byte payloads,
// unlimited rate, from the lab's host namespace to its internet namespace,
// for a bounded time. Shared by nft-set-scaling.mjs and watch-cost.mjs.
import { execFileSync, spawn } from 'node:child_process';
import { inNs } from './netns.mjs';

/** One flood of `seconds`; returns the sender's packets per second and the receiver's loss. The server is killed on every way out. */
export function udpFlood(lab, children, seconds) {
  const server = spawn('ip', ['netns', 'exec', lab.internet, 'iperf3', '-s', '-1', '-B', lab.addr.inet, '-p', '5201'], { stdio: 'ignore' });
  children.add(server);
  try {
    execFileSync('sleep', ['0.3']);
    const out = inNs(lab.host, 'timeout', String(seconds + 15), 'iperf3', '-c', lab.addr.inet, '-p', '5201', '-u', '-b', '0', '-l', '64', '-t', String(seconds), '-J');
    const sum = JSON.parse(out).end.sum;
    return { pps: sum.packets / sum.seconds, lost: sum.lost_percent };
  } finally {
    if (server.exitCode === null) server.kill('SIGKILL');
    children.delete(server);
  }
}

/** udpFlood without blocking this process's event loop (an in-process agent keeps running); resolves the same. */
export async function udpFloodAsync(lab, children, seconds) {
  const server = spawn('ip', ['netns', 'exec', lab.internet, 'iperf3', '-s', '-1', '-B', lab.addr.inet, '-p', '5201'], { stdio: 'ignore' });
  children.add(server);
  try {
    await new Promise((r) => setTimeout(r, 300));
    const client = spawn('ip', ['netns', 'exec', lab.host, 'timeout', String(seconds + 15), 'iperf3', '-c', lab.addr.inet, '-p', '5201', '-u', '-b', '0', '-l', '64', '-t', String(seconds), '-J'], { stdio: ['ignore', 'pipe', 'ignore'] });
    children.add(client);
    let out = '';
    client.stdout.on('data', (d) => (out += d));
    const code = await new Promise((r) => client.once('exit', r));
    children.delete(client);
    if (code !== 0) throw new Error(`iperf3 client exited with ${code}`);
    const sum = JSON.parse(out).end.sum;
    return { pps: sum.packets / sum.seconds, lost: sum.lost_percent };
  } finally {
    if (server.exitCode === null) server.kill('SIGKILL');
    children.delete(server);
  }
}
