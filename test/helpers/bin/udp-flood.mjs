// A bounded UDP flood: RATE packets per second of 64-byte datagrams from
// SOURCE to DESTINATION:9 for SECONDS (at most 10 s and 20,000 pps), sent in
// 10 ms ticks. Prints one JSON line with how many were sent.
//   node udp-flood.mjs SOURCE DESTINATION RATE SECONDS
import { createSocket } from 'node:dgram';

const [source, destination, rate, seconds] = process.argv.slice(2);
const perTick = Math.max(1, Math.round(Math.min(Number(rate), 20_000) / 100));
const end = Date.now() + Math.min(Number(seconds), 10) * 1000;
const socket = createSocket('udp4');
const payload = Buffer.alloc(64);
let sent = 0;
socket.bind(0, source, async () => {
  while (Date.now() < end) {
    const tickEnd = Date.now() + 10;
    for (let i = 0; i < perTick; i++) socket.send(payload, 9, destination);
    sent += perTick;
    await new Promise((r) => setTimeout(r, Math.max(0, tickEnd - Date.now())));
  }
  socket.close(() => console.log(JSON.stringify({ sent })));
});
