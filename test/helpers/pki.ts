import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadTlsMaterial, type TlsMaterial } from '../../proto/runtime/tls.js';
import { REPO_ROOT } from './paths.js';

const SCRIPT = join(REPO_ROOT, 'deploy/pki/cordon-pki');

/** A throw-away CA made by the real PKI script, for one test file. */
export class TestPki {
  readonly dir: string;

  constructor(readonly root: string = mkdtempSync(join(tmpdir(), 'cordon-pki-'))) {
    this.dir = join(root, 'pki');
    this.run('init');
    this.run('issue-controller', 'localhost', '127.0.0.1', '::1');
  }

  run(...args: string[]): string {
    return execFileSync(SCRIPT, ['--dir', this.dir, ...args], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  }

  agent(hostId: string): TlsMaterial {
    this.run('issue-agent', hostId);
    return this.material(`agent-${hostId}`);
  }

  operator(name: string, role: string): TlsMaterial {
    this.run('issue-operator', name, role);
    return this.material(`operator-${name}`);
  }

  controller(): TlsMaterial {
    return this.material('controller');
  }

  material(name: string): TlsMaterial {
    return loadTlsMaterial({ ca: join(this.dir, 'ca.crt'), cert: join(this.dir, `${name}.crt`), key: join(this.dir, `${name}.key`) });
  }

  get revokedFile(): string {
    return join(this.dir, 'revoked-serials');
  }

  cleanup(): void {
    rmSync(this.root, { recursive: true, force: true });
  }
}
