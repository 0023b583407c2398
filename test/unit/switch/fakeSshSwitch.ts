import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import ssh2, { type Connection, type ServerChannel } from 'ssh2';
import { hostKeyFingerprint } from '../../../controller/switch/hostKeyFingerprint.js';
import type { SwitchTarget, SwitchVendor } from '../../../controller/switch/SwitchDriver.js';
import type { CliModel } from './fakeCliModels.js';

const { Server, utils } = ssh2;

/** What the fake does after handling a line: close the connection, or never show the prompt. */
export type Fault = 'drop' | 'hang';

/**
 * A real SSH server (ssh2's) on 127.0.0.1:0 whose shell sessions each talk to
 * a fresh simulated CLI (`model()`) over one shared switch state. Every line typed is recorded in `typed`, so tests pin
 * the exact sequence that went over the wire; `faults` make a given line
 * drop the connection or hang after its effect is applied.
 */
export interface FakeSshSwitch {
  target(vendor: SwitchVendor, hostPort: string, protectedPorts?: string[]): SwitchTarget;
  typed: string[];
  faults: Map<string, Fault>;
  /** Most shell sessions ever open at once. */
  maxConcurrent: number;
  /** Per session, in order: the lines it received. */
  sessions: string[][];
  close(): Promise<void>;
}

export async function startFakeSshSwitch(model: () => CliModel): Promise<FakeSshSwitch> {
  const dir = mkdtempSync(join(tmpdir(), 'cordon-fake-switch-'));
  // ssh2's generateKeyPairSync now and then emits an ed25519 key its own
  // parseKey rejects (seen in CI, about one run in a few hundred): draw again.
  const pair = () => {
    for (let tries = 0; tries < 20; tries++) {
      const k = utils.generateKeyPairSync('ed25519');
      const pub = utils.parseKey(k.public);
      const priv = utils.parseKey(k.private);
      if (!(pub instanceof Error) && !(priv instanceof Error)) return { key: k, pub };
    }
    throw new Error('cannot generate a parsable ed25519 key');
  };
  const host = pair();
  const client = pair();
  const hostKey = host.key;
  const clientKey = client.key;
  const keyFile = join(dir, 'client_ed25519');
  writeFileSync(keyFile, clientKey.private, { mode: 0o600 });
  const allowed = client.pub;
  const hostPub = host.pub;
  let open = 0;
  const fake: FakeSshSwitch = {
    typed: [],
    faults: new Map(),
    maxConcurrent: 0,
    sessions: [],
    target: () => {
      throw new Error('not listening yet');
    },
    close: async () => {},
  };
  const conns = new Set<Connection>();
  const server = new Server({ hostKeys: [hostKey.private] }, (conn) => {
    conns.add(conn);
    conn.on('close', () => conns.delete(conn));
    conn.on('error', () => {});
    conn.on('authentication', (ctx) => {
      if (ctx.method !== 'publickey' || ctx.key.algo !== allowed.type || !ctx.key.data.equals(allowed.getPublicSSH())) return ctx.reject(['publickey']);
      if (ctx.signature && ctx.blob && allowed.verify(ctx.blob, ctx.signature, ctx.hashAlgo) !== true) return ctx.reject(['publickey']);
      ctx.accept();
    });
    conn.on('ready', () => {
      conn.on('session', (acceptSession) => {
        const session = acceptSession();
        session.on('pty', (accept) => accept?.());
        session.on('shell', (accept) => {
          const stream = accept();
          const lines: string[] = [];
          fake.sessions.push(lines);
          fake.maxConcurrent = Math.max(fake.maxConcurrent, ++open);
          stream.on('close', () => open--);
          // A CLI per session (its own mode), over the switch state the tests share.
          serveShell(stream, model(), (line) => {
            fake.typed.push(line);
            lines.push(line);
            return fake.faults.get(line);
          }, () => conn.end());
        });
      });
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  fake.target = (vendor, hostPort, protectedPorts = ['uplink-1']) => ({
    switchId: `fake-${vendor}`,
    address: '127.0.0.1',
    port,
    user: 'cordon',
    privateKeyFile: keyFile,
    hostKeySha256: hostKeyFingerprint(hostPub.getPublicSSH()),
    vendor,
    hostPort,
    protectedPorts,
  });
  fake.close = async () => {
    for (const c of conns) c.end();
    await new Promise<void>((resolve) => server.close(() => resolve()));
    rmSync(dir, { recursive: true, force: true });
  };
  return fake;
}

/** Echoes typed characters line by line, like a CLI on a pty, and answers each line. */
function serveShell(stream: ServerChannel, cli: CliModel, onLine: (line: string) => Fault | undefined, drop: () => void): void {
  let pending = '';
  let hung = false;
  stream.write(cli.banner() + cli.prompt());
  stream.on('data', (d: Buffer) => {
    if (hung) return;
    pending += d.toString('utf8');
    let nl: number;
    while ((nl = pending.search(/[\r\n]/)) >= 0) {
      const line = pending.slice(0, nl);
      pending = pending.slice(nl + 1).replace(/^\n/, '');
      const fault = onLine(line);
      const answer = `${line}\r\n${cli.line(line)}`;
      if (fault === 'drop') {
        stream.write(answer);
        return drop();
      }
      if (fault === 'hang') {
        stream.write(answer);
        hung = true;
        return;
      }
      // One write per answer, as a CLI flushes it: split writes would wait on Nagle.
      stream.write(answer + cli.prompt());
    }
  });
}
