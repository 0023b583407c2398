// Joins a TCP port and a unix socket, so that the customer page, served by
// the controller inside the lab's management namespace, can be opened from
// a browser on the machine itself: the filesystem is shared between network
// namespaces, sockets are not. Two bridges make the path:
//   in cordon-lab-mgmt:  node socketBridge.js unix-to-tcp <lab>/page.sock 127.0.0.1 8480
//   in the root netns:   node socketBridge.js tcp-to-unix 127.0.0.1 8480 <lab>/page.sock
// Bytes are copied as they are; each side's close or error closes the other.
// With controller replicas (the demo's --ha) the namespace side is given
// every replica's listener, HOST PORT after HOST PORT, and takes the first
// that accepts the connection, as a load balancer in front of them would:
// a killed replica's port refuses at once, so the next one serves.
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
  process.stderr.write('usage: socketBridge.js unix-to-tcp SOCKET HOST PORT [HOST PORT]... | tcp-to-unix HOST PORT SOCKET\n');
  process.exit(2);
}

/** Joins `client` to the first of `targets` that accepts a connection; closes it when none does. */
function connectFirst(client: Socket, targets: { host: string; port: number }[], k = 0): void {
  const target = targets[k];
  if (!target || client.destroyed) {
    client.destroy();
    return;
  }
  const upstream = createConnection(target);
  const next = () => {
    upstream.destroy();
    connectFirst(client, targets, k + 1);
  };
  upstream.once('error', next);
  upstream.once('connect', () => {
    upstream.off('error', next);
    pipe(client, upstream);
  });
}

const [mode, ...args] = process.argv.slice(2);
if (mode === 'unix-to-tcp' && args.length >= 3 && args.length % 2 === 1) {
  const [socket, ...rest] = args as [string, ...string[]];
  const targets = Array.from({ length: rest.length / 2 }, (_, k) => ({ host: rest[2 * k]!, port: Number(rest[2 * k + 1]) }));
  rmSync(socket, { force: true });
  // Paused until joined: what the client sends first waits in its buffer, not lost.
  const server = createServer({ pauseOnConnect: true }, (client) => {
    client.on('error', () => client.destroy());
    connectFirst(client, targets);
  });
  server.listen(socket, () => process.stdout.write(`bridging ${socket} to ${targets.map((x) => `${x.host}:${x.port}`).join(', then ')}\n`));
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
