// TCP listeners that answer like the services the lab's probes talk to:
// SMTP ports greet with a 220 banner and take QUIT, port 22 sends an SSH
// banner, anything else answers one HTTP request with 200. Runs inside a lab
// namespace (the internet's, or a server's for its management side) until
// SIGTERM.
//   node sink.js 25 587 80
import { createServer, type Socket } from 'node:net';

const SMTP_PORTS = new Set([25, 465, 587, 2525]);

function smtp(sock: Socket): void {
  sock.write('220 mx.internet.lab ESMTP lab sink\r\n');
  sock.on('data', (d) => {
    const line = d.toString('latin1').trim().toUpperCase();
    if (line.startsWith('QUIT')) sock.end('221 bye\r\n');
    else sock.write('250 ok\r\n');
  });
}

function http(sock: Socket): void {
  sock.once('data', () => sock.end('HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 3\r\nConnection: close\r\n\r\nok\n'));
}

const ports = process.argv.slice(2).map(Number);
if (ports.length === 0 || ports.some((p) => !Number.isInteger(p) || p < 1 || p > 65535)) {
  process.stderr.write('usage: sink.js PORT [PORT ...]\n');
  process.exit(2);
}
let listening = 0;
for (const port of ports) {
  const server = createServer((sock) => {
    // Probes reset connections at once; that is not an error here.
    sock.on('error', () => {});
    sock.setTimeout(10_000, () => sock.destroy());
    if (SMTP_PORTS.has(port)) smtp(sock);
    else if (port === 22) sock.end('SSH-2.0-lab-sink\r\n');
    else http(sock);
  });
  server.listen({ port, host: '::', ipv6Only: false }, () => {
    if (++listening === ports.length) process.stdout.write(`listening on ${ports.join(', ')}\n`);
  });
}
process.on('SIGTERM', () => process.exit(0));
