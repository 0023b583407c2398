// Listens on the given TCP ports on all addresses (IPv4 and IPv6), accepts and
// closes each connection after writing "ok\n". Prints "ready" once all listen.
// Used inside test namespaces; exits on SIGTERM or when stdin closes.
import { createServer } from 'node:net';

const ports = process.argv.slice(2).map(Number);
let ready = 0;
for (const port of ports) {
  const srv = createServer((sock) => {
    sock.on('error', () => {}); // probes reset the connection at once
    sock.end('ok\n');
  });
  srv.listen({ port, host: '::', ipv6Only: false }, () => {
    if (++ready === ports.length) process.stdout.write('ready\n');
  });
}
process.stdin.on('end', () => process.exit(0));
process.stdin.resume();
