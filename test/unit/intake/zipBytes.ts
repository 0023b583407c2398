import { deflateRawSync } from 'node:zlib';

/** One member of a hand-made zip: its deflated bytes and the size the archive claims (which may lie). */
export interface ZipEntry {
  name: string;
  /** Raw deflate data (method 8). */
  data: Buffer;
  declaredSize: number;
}

/** A member whose declared size is the truth. */
export function member(name: string, content: Buffer | string): ZipEntry {
  const bytes = Buffer.from(content);
  return { name, data: deflateRawSync(bytes), declaredSize: bytes.length };
}

/**
 * A zip archive written by hand, so that its central directory can say
 * whatever a test needs (a bomb that declares 1 KB per member, a million
 * entries). CRCs are left at 0: Cordon does not check them.
 */
export function zipBytes(entries: readonly ZipEntry[], opts: { count?: number } = {}): Buffer {
  const locals: Buffer[] = [];
  const central: Buffer[] = [];
  let offset = 0;
  for (const e of entries) {
    const name = Buffer.from(e.name);
    const local = Buffer.alloc(30);
    local.writeUInt32LE(0x04034b50, 0);
    local.writeUInt16LE(20, 4);
    local.writeUInt16LE(8, 8);
    local.writeUInt32LE(e.data.length, 18);
    local.writeUInt32LE(e.declaredSize, 22);
    local.writeUInt16LE(name.length, 26);
    locals.push(local, name, e.data);
    const dir = Buffer.alloc(46);
    dir.writeUInt32LE(0x02014b50, 0);
    dir.writeUInt16LE(20, 4);
    dir.writeUInt16LE(20, 6);
    dir.writeUInt16LE(8, 10);
    dir.writeUInt32LE(e.data.length, 20);
    dir.writeUInt32LE(e.declaredSize, 24);
    dir.writeUInt16LE(name.length, 28);
    dir.writeUInt32LE(offset, 42);
    central.push(dir, name);
    offset += 30 + name.length + e.data.length;
  }
  const directory = Buffer.concat(central);
  const end = Buffer.alloc(22);
  end.writeUInt32LE(0x06054b50, 0);
  end.writeUInt16LE(opts.count ?? entries.length, 8);
  end.writeUInt16LE(opts.count ?? entries.length, 10);
  end.writeUInt32LE(directory.length, 12);
  end.writeUInt32LE(offset, 16);
  return Buffer.concat([...locals, directory, end]);
}

/** Raw deflate of `size` zero bytes: about a thousandth of that, whatever it later claims to be. */
export function zeros(size: number): Buffer {
  return deflateRawSync(Buffer.alloc(size), { level: 9 });
}

/** A MIME message nested `depth` levels deep (multipart/mixed in multipart/mixed …), a labelled offender at the bottom. */
export function nestedMime(depth: number): Buffer {
  const head = ['From: reporter@example.net', 'To: abuse@provider.example', 'Subject: nested', 'Message-ID: <nested@example.net>', 'MIME-Version: 1.0'];
  let body = 'Content-Type: text/plain\r\n\r\nSource IP: 192.0.2.1\r\n';
  for (let level = depth - 1; level >= 1; level--) {
    const b = `b${level}`;
    body = `Content-Type: multipart/mixed; boundary="${b}"\r\n\r\n--${b}\r\n${body}--${b}--\r\n`;
  }
  return Buffer.from(`${head.join('\r\n')}\r\n${body}`);
}

/** A MIME message of `parts` parts in total (the message and its parts). */
export function manyParts(parts: number): Buffer {
  const lines = ['From: reporter@example.net', 'Subject: parts', 'MIME-Version: 1.0', 'Content-Type: multipart/mixed; boundary="x"', ''];
  for (let i = 1; i < parts; i++) lines.push('--x', 'Content-Type: text/plain', '', `part ${i}`);
  lines.push('--x--', '');
  return Buffer.from(lines.join('\r\n'));
}
