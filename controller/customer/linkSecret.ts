import { randomBytes } from 'node:crypto';
import { link, mkdir, open, readFile, stat, unlink } from 'node:fs/promises';
import { dirname } from 'node:path';
import { CordonError } from '../../proto/runtime/CordonError.js';

/**
 * Reads the customer-link secret, creating it (32 random bytes, mode 0600)
 * when the file does not exist yet. Refuses a file others can read, or one
 * shorter than 32 bytes: whoever reads it can open every customer's page.
 */
export async function loadLinkSecret(path: string): Promise<Buffer> {
  try {
    const st = await stat(path);
    if ((st.mode & 0o077) !== 0) {
      throw new CordonError('invalid', `${path} is readable by others (mode ${(st.mode & 0o777).toString(8)}); chmod 600 it`, { field: 'web.customer.secretFile' });
    }
    const secret = await readFile(path);
    if (secret.length < 32) throw new CordonError('invalid', `${path} holds ${secret.length} bytes; at least 32 are needed`, { field: 'web.customer.secretFile' });
    return secret;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  await mkdir(dirname(path), { recursive: true, mode: 0o700 });
  const secret = randomBytes(32);
  // Written whole under a private name, then link()ed into place: link fails
  // with EEXIST when the file exists, so of two controllers starting at once
  // one wins and the other reads the winner's secret, never a half-written
  // (empty) file, which 'wx' on the final name alone would let it see.
  const temp = `${path}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`;
  const f = await open(temp, 'wx', 0o600);
  try {
    await f.writeFile(secret);
    await f.sync();
  } finally {
    await f.close();
  }
  try {
    await link(temp, path);
    return secret;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return loadLinkSecret(path);
    throw err;
  } finally {
    await unlink(temp).catch(() => undefined);
  }
}
