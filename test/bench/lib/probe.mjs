// A UDP probe for decision-latency.mjs, run inside a namespace.
//   probe.mjs send HOST PORT INTERVAL_MS MAX_SECONDS   every INTERVAL_MS sends seq + CLOCK_MONOTONIC
//        (process.hrtime) and writes the same 12-byte record (u32 seq, u64 ns, little endian) to stdout
//   probe.mjs recv HOST PORT MAX_SECONDS               writes the u32 seq of every datagram it gets to stdout
// Both stop when stdin closes or after MAX_SECONDS, whichever comes first.
import { createSocket } from 'node:dgram';

const [mode, host, portArg, a3, a4] = process.argv.slice(2);
const port = Number(portArg);
const maxSeconds = Number(mode === 'send' ? a4 : a3);
const sock = createSocket('udp4');
// Isolation makes sends fail (EPERM from the output hook): expected, never fatal.
sock.on('error', () => {});
let out = [];
let outBytes = 0;
const flush = () => {
  if (outBytes === 0) return;
  process.stdout.write(Buffer.concat(out, outBytes));
  out = [];
  outBytes = 0;
};
const stop = () => {
  flush();
  sock.close();
  process.exit(0);
};
process.stdin.on('end', stop).on('close', stop).resume();
setTimeout(stop, maxSeconds * 1000).unref();
const flusher = setInterval(flush, 2);

if (mode === 'send') {
  const interval = Number(a3);
  let seq = 0;
  sock.connect(port, host, () => {
    const tick = () => {
      const b = Buffer.alloc(12);
      b.writeUInt32LE(seq++, 0);
      b.writeBigUInt64LE(process.hrtime.bigint(), 4);
      // A dropped datagram (isolation: nft answers EPERM on output) is the point, not an error.
      sock.send(b, () => {});
      out.push(b);
      outBytes += 12;
    };
    setInterval(tick, interval);
  });
} else if (mode === 'recv') {
  sock.on('message', (msg) => {
    if (msg.length < 4) return;
    out.push(msg.subarray(0, 4));
    outBytes += 4;
  });
  sock.bind(port, host, () => process.stderr.write('listening\n'));
} else {
  clearInterval(flusher);
  process.stderr.write('usage: probe.mjs send|recv ...\n');
  process.exit(2);
}
