import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { DIST } from './paths.js';

const run = promisify(execFile);

export interface CtlResult {
  code: number;
  out: string;
  err: string;
}

/**
 * The built cordonctl against a controller on 127.0.0.1:`port()`, as
 * `operator` with the test PKI's certificate; resolves with the exit code
 * and both outputs, also when the command fails (a refusal is what many
 * tests are about).
 */
export function cordonctl(port: () => number, pkiDir: () => string) {
  return async (operator: string, ...args: string[]): Promise<CtlResult> => {
    try {
      const r = await run(process.execPath, [join(DIST, 'controller/cli/cordonctl.cjs'), '--controller', `127.0.0.1:${port()}`, '--server-name', 'localhost', '--pki', pkiDir(), '--operator', operator, ...args]);
      return { code: 0, out: r.stdout, err: r.stderr };
    } catch (err) {
      const e = err as { code: number; stdout: string; stderr: string };
      return { code: e.code, out: e.stdout, err: e.stderr };
    }
  };
}
