import { readFile } from 'node:fs/promises';
import type { Duplex } from 'node:stream';
import { Client, type ConnectConfig } from 'ssh2';
import { CordonError } from '../../proto/runtime/CordonError.js';
import { hostKeyFingerprint } from './hostKeyFingerprint.js';
import type { SwitchTarget } from './SwitchDriver.js';

/**
 * Opens the byte stream to a switch's SSH server, like OpenSSH's
 * `ProxyCommand`: through a jump host, or (in the system tests) from inside
 * the management network namespace. Without one, ssh2 connects over TCP.
 */
export type DialSwitch = (target: SwitchTarget) => Duplex | Promise<Duplex>;

export interface ConnectOptions {
  /** Covers TCP connect, key exchange and authentication. */
  connectTimeoutMs: number;
  dial?: DialSwitch;
  signal?: AbortSignal;
}

/**
 * Connects and authenticates to the switch, accepting only the host key whose
 * SHA-256 fingerprint is pinned in `target.hostKeySha256`: there is no
 * known_hosts and no trust on first use, because a switch that answers with
 * another key may be an impostor collecting the port the controller cuts.
 *
 * Rejects with `permission` for a host key that differs from the pin (naming
 * both), `unauthenticated` when the switch refuses the key, `invalid` for an
 * unreadable key file, `transient` for timeouts, refusals and aborts.
 */
export async function connectSwitch(target: SwitchTarget, opts: ConnectOptions): Promise<Client> {
  const where = `switch ${target.switchId} (${target.address}:${target.port ?? 22})`;
  let privateKey: Buffer;
  try {
    privateKey = await readFile(target.privateKeyFile);
  } catch (err) {
    throw new CordonError('invalid', `cannot read ${target.privateKeyFile}: ${(err as Error).message}`, { field: 'privateKeyFile', cause: err });
  }
  if (opts.signal?.aborted) throw new CordonError('transient', `${where}: aborted before connecting`);
  let sock: Duplex | undefined;
  try {
    sock = opts.dial ? await opts.dial(target) : undefined;
  } catch (err) {
    throw new CordonError('transient', `${where}: cannot open the path to it: ${(err as Error).message}`, { cause: err });
  }

  const client = new Client();
  let offered: string | undefined;
  const config: ConnectConfig = {
    host: target.address,
    port: target.port ?? 22,
    username: target.user,
    privateKey,
    readyTimeout: opts.connectTimeoutMs,
    tryKeyboard: false,
    // Raw key blob (no hostHash): fingerprinted the way ssh-keygen -lf does.
    hostVerifier: (key: Buffer) => {
      offered = hostKeyFingerprint(key);
      return offered === target.hostKeySha256;
    },
    ...(sock ? { sock } : {}),
  };

  return new Promise<Client>((resolve, reject) => {
    const abort = () => {
      client.destroy();
      reject(new CordonError('transient', `${where}: aborted while connecting`));
    };
    opts.signal?.addEventListener('abort', abort, { once: true });
    const settle = () => opts.signal?.removeEventListener('abort', abort);
    client.once('ready', () => {
      settle();
      // Lines to a CLI are small and each waits for its answer: never hold one back for Nagle.
      client.setNoDelay(true);
      resolve(client);
    });
    client.on('error', (err: Error & { level?: string }) => {
      settle();
      client.destroy();
      reject(classifyConnectError(where, target, offered, err));
    });
    client.once('close', () => {
      settle();
      reject(new CordonError('transient', `${where}: connection closed before authentication`));
    });
    client.connect(config);
  });
}

function classifyConnectError(where: string, target: SwitchTarget, offered: string | undefined, err: Error & { level?: string }): CordonError {
  if (offered !== undefined && offered !== target.hostKeySha256) {
    return new CordonError(
      'permission',
      `${where} presented host key ${offered}, but ${target.hostKeySha256} is pinned: refusing to connect (a replaced switch or an impostor; update the inventory only after checking the key on the console)`,
      { field: 'hostKeySha256', cause: err },
    );
  }
  if (err.level === 'client-authentication') {
    return new CordonError('unauthenticated', `${where} refused public-key login as ${target.user} with ${target.privateKeyFile}`, { cause: err });
  }
  if (err.level === 'client-timeout') {
    return new CordonError('transient', `${where}: no SSH handshake within the connect timeout`, { cause: err });
  }
  return new CordonError('transient', `${where}: ${err.message}`, { cause: err });
}
