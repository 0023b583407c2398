import type { ParsedComplaint } from './types.js';

/**
 * Excerpts that share their head: a feed's excerpt per row is the CSV header
 * line (the same for thousands of rows) and the row. Built as `head + tail`,
 * V8 keeps one copy of the head and a small node per excerpt; but a worker's
 * postMessage copies every string whole, so the parts are remembered here and
 * each head crosses the thread boundary once (ExcerptPacker / ExcerptUnpacker).
 */
const PARTS = new WeakMap<ParsedComplaint, readonly [head: string, tail: string]>();

/** Sets `c.excerpt` to head + tail, remembering the parts. */
export function setSharedExcerpt(c: ParsedComplaint, head: string, tail: string): ParsedComplaint {
  c.excerpt = head + tail;
  PARTS.set(c, [head, tail]);
  return c;
}

/** Excerpts as sent between threads: heads not sent before, then per complaint a head by index and its own tail, or the whole excerpt. */
export interface PackedExcerpts {
  heads: string[];
  excerpts: (readonly [head: number, tail: string] | string | undefined)[];
}

/** Packs the excerpts of one result, batch after batch, sending each head once. */
export class ExcerptPacker {
  private readonly index = new Map<string, number>();

  /** Takes the excerpts out of `complaints` (which then hold none) into their compact form. */
  pack(complaints: readonly ParsedComplaint[]): PackedExcerpts {
    const heads: string[] = [];
    const excerpts = complaints.map((c) => {
      const parts = PARTS.get(c);
      const whole = c.excerpt;
      if (whole !== undefined) c.excerpt = undefined;
      if (!parts) return whole;
      let at = this.index.get(parts[0]);
      if (at === undefined) {
        at = this.index.size;
        this.index.set(parts[0], at);
        heads.push(parts[0]);
      }
      return [at, parts[1]] as const;
    });
    return { heads, excerpts };
  }
}

/** The receiving side of an ExcerptPacker: puts the excerpts back, each head shared again. */
export class ExcerptUnpacker {
  private readonly heads: string[] = [];

  unpack(complaints: readonly ParsedComplaint[], packed: PackedExcerpts): void {
    this.heads.push(...packed.heads);
    complaints.forEach((c, i) => {
      const e = packed.excerpts[i];
      if (e !== undefined) c.excerpt = typeof e === 'string' ? e : this.heads[e[0]]! + e[1];
    });
  }
}
