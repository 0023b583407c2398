import { inflateRawSync } from 'node:zlib';
import { CordonError } from '../../proto/runtime/CordonError.js';
import { IntakeLimitError, checkLimit, type IntakeLimits } from './limits.js';

/** One member of a zip archive, decompressed. */
export interface ZipMember {
  name: string;
  bytes: Uint8Array;
}

/** Bytes decompressed so far for one report (all its archives): intake.limits.decompressedBytes is per report. */
export interface DecompressBudget {
  used: number;
}

interface Entry {
  name: string;
  flags: number;
  method: number;
  compressedSize: number;
  declaredSize: number;
  localOffset: number;
}


function corrupt(why: string): CordonError {
  return new CordonError('invalid', `not a readable zip: ${why}`);
}

function u64(view: DataView, at: number): number {
  return view.getUint32(at + 4, true) * 2 ** 32 + view.getUint32(at, true);
}

/** The central directory: where every member is, its method and the sizes the archive declares (zip64 included). */
function readDirectory(zip: Uint8Array, limits: IntakeLimits, where: string): Entry[] {
  const view = new DataView(zip.buffer, zip.byteOffset, zip.byteLength);
  let eocd = -1;
  for (let at = zip.length - 22; at >= Math.max(0, zip.length - 22 - 0xffff); at--) {
    if (view.getUint32(at, true) === 0x06054b50) {
      eocd = at;
      break;
    }
  }
  if (eocd < 0) throw corrupt('no end of central directory');
  let count = view.getUint16(eocd + 10, true);
  let offset = view.getUint32(eocd + 16, true);
  if ((count === 0xffff || offset === 0xffffffff) && eocd >= 20 && view.getUint32(eocd - 20, true) === 0x07064b50) {
    const z64 = u64(view, eocd - 12);
    if (z64 + 56 > zip.length || view.getUint32(z64, true) !== 0x06064b50) throw corrupt('bad zip64 end of central directory');
    count = u64(view, z64 + 32);
    offset = u64(view, z64 + 48);
  }
  // The count comes first: a million-entry archive is refused before its directory is read.
  checkLimit(limits, 'zipMembers', count, where);
  const entries: Entry[] = [];
  let at = offset;
  for (let i = 0; i < count; i++) {
    if (at + 46 > zip.length || view.getUint32(at, true) !== 0x02014b50) throw corrupt('bad central directory');
    const flags = view.getUint16(at + 8, true);
    const nameLength = view.getUint16(at + 28, true);
    const extraLength = view.getUint16(at + 30, true);
    const commentLength = view.getUint16(at + 32, true);
    if (at + 46 + nameLength + extraLength > zip.length) throw corrupt('bad central directory');
    const name = Buffer.from(zip.buffer, zip.byteOffset + at + 46, nameLength).toString(flags & 0x800 ? 'utf8' : 'latin1');
    let compressedSize = view.getUint32(at + 20, true);
    let declaredSize = view.getUint32(at + 24, true);
    let localOffset = view.getUint32(at + 42, true);
    // zip64 extended information (0x0001): 8-byte values for the fields that are 0xffffffff, in this order.
    for (let x = at + 46 + nameLength; x + 4 <= at + 46 + nameLength + extraLength; ) {
      const id = view.getUint16(x, true);
      const size = view.getUint16(x + 2, true);
      if (id === 0x0001) {
        let y = x + 4;
        const next = (): number => {
          if (y + 8 > x + 4 + size) throw corrupt('bad zip64 extra field');
          const v = u64(view, y);
          y += 8;
          return v;
        };
        if (declaredSize === 0xffffffff) declaredSize = next();
        if (compressedSize === 0xffffffff) compressedSize = next();
        if (localOffset === 0xffffffff) localOffset = next();
      }
      x += 4 + size;
    }
    entries.push({ name, flags, method: view.getUint16(at + 10, true), compressedSize, declaredSize, localOffset });
    at += 46 + nameLength + extraLength + commentLength;
  }
  return entries;
}

/**
 * Inflates one member with zlib, which counts the bytes as they come out and
 * stops as soon as they pass what is left of either limit (maxOutputLength):
 * a bomb is never inflated past the limit, whatever its headers say.
 */
function inflateCounted(data: Uint8Array, entry: Entry, limits: IntakeLimits, budget: DecompressBudget, where: string): Uint8Array {
  const memberRoom = limits.zipMemberBytes;
  const totalRoom = limits.decompressedBytes - budget.used;
  const room = Math.min(memberRoom, totalRoom);
  let bytes: Buffer | undefined;
  try {
    bytes = inflateRawSync(data, { maxOutputLength: room + 1 });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ERR_BUFFER_TOO_LARGE') throw corrupt(`member ${entry.name}: ${(err as Error).message}`);
  }
  if (bytes === undefined || bytes.length > room) {
    if (memberRoom <= totalRoom) throw new IntakeLimitError('zipMemberBytes', room + 1, limits.zipMemberBytes, `member ${entry.name} of ${where}`, true);
    throw new IntakeLimitError('decompressedBytes', budget.used + room + 1, limits.decompressedBytes, `${where}, member ${entry.name}`, true);
  }
  budget.used += bytes.length;
  return bytes;
}

/**
 * The members of a zip archive (its files, not its directories),
 * decompressed within the intake limits: the member count and the sizes the
 * central directory declares are checked before anything is inflated, and
 * the bytes are counted again as they come out, since an archive can lie
 * about them. Throws IntakeLimitError over a limit, CordonError('invalid')
 * for an archive it cannot read; members it cannot decompress (encrypted,
 * a method other than stored or deflate) are left out.
 */
export function readZip(zip: Uint8Array, limits: IntakeLimits, budget: DecompressBudget, where: string): ZipMember[] {
  const entries = readDirectory(zip, limits, where).filter((e) => !e.name.endsWith('/'));
  let declared = budget.used;
  for (const e of entries) {
    checkLimit(limits, 'zipMemberBytes', e.declaredSize, `member ${e.name} of ${where} (declared size)`);
    declared += e.declaredSize;
  }
  checkLimit(limits, 'decompressedBytes', declared, `${where} (declared sizes)`);
  const view = new DataView(zip.buffer, zip.byteOffset, zip.byteLength);
  const members: ZipMember[] = [];
  for (const e of entries) {
    if (e.flags & 0x1 || (e.method !== 0 && e.method !== 8)) continue; // encrypted, or a method we do not read
    const local = e.localOffset;
    if (local + 30 > zip.length || view.getUint32(local, true) !== 0x04034b50) throw corrupt(`member ${e.name}: bad local header`);
    const start = local + 30 + view.getUint16(local + 26, true) + view.getUint16(local + 28, true);
    if (start + e.compressedSize > zip.length) throw corrupt(`member ${e.name} is truncated`);
    const data = zip.subarray(start, start + e.compressedSize);
    if (e.method === 0) {
      budget.used += data.length;
      checkLimit(limits, 'zipMemberBytes', data.length, `member ${e.name} of ${where}`);
      checkLimit(limits, 'decompressedBytes', budget.used, where);
      members.push({ name: e.name, bytes: data });
    } else {
      members.push({ name: e.name, bytes: inflateCounted(data, e, limits, budget, where) });
    }
  }
  return members;
}
