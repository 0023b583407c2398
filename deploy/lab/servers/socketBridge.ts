// Joins a TCP port and a unix socket, so that the customer page, served by
// the controller inside the lab's management namespace, can be opened from
// a browser on the machine itself: the filesystem is shared between network
// namespaces, sockets are not. Two bridges make the path:
//   in cordon-lab-mgmt:  node socketBridge.js unix-to-tcp <lab>/page.sock 127.0.0.1 8480
//   in the root netns:   node socketBridge.js tcp-to-unix 127.0.0.1 8480 <lab>/page.sock
// Bytes are copied as they are; each side's close or error closes the other.
import { createConnection, createServer, type Socket } from 'node:net';
import { rmSync } from 'node:fs';

function pipe(a: Socket, b: Socket): void {
  a.pipe(b);
  b.pipe(a);
  const close = () => {
    a.destroy();
    b.destroy();
  };
  a.on('error', close).on('close', close);
  b.on('error', close).on('close', close);
}

function usage(): never {
  process.stderr.write('usage: socketBridge.js unix-to-tcp SOCKET HOST PORT | tcp-to-unix HOST PORT SOCKET\n');
  process.exit(2);
}

const [mode, ...args] = process.argv.slice(2);
if (mode === 'unix-to-tcp' && args.length === 3) {
  const [socket, host, port] = args as [string, string, string];
  rmSync(socket, { force: true });
  const server = createServer((client) => pipe(client, createConnection({ host, port: Number(port) })));
  server.listen(socket, () => process.stdout.write(`bridging ${socket} to ${host}:${port}\n`));
} else if (mode === 'tcp-to-unix' && args.length === 3) {
  const [host, port, socket] = args as [string, string, string];
  const server = createServer((client) => pipe(client, createConnection(socket)));
  server.on('error', (err) => {
    process.stderr.write(`cannot listen on ${host}:${port}: ${err.message}\n`);
    process.exit(1);
  });
  server.listen(Number(port), host, () => process.stdout.write(`bridging ${host}:${port} to ${socket}\n`));
} else {
  usage();
}
process.on('SIGTERM', () => process.exit(0));
