import { asCordonError } from '../../../proto/runtime/CordonError.js';

/**
 * What a run found: violations of an invariant (the test fails on any),
 * findings (real defects the sim reproduces but does not assert, so the
 * suite stays green while the lead fixes them; listed in the summary), and
 * counts of what happened (so a run that never reached a case shows it).
 * Each check keeps its count and a few examples, so one broken rule does not
 * hide the others.
 */
export class Tally {
  readonly counts = new Map<string, number>();
  private readonly failures = new Map<string, { count: number; examples: string[] }>();
  private readonly noted = new Map<string, { count: number; examples: string[] }>();

  count(name: string, by = 1): void {
    this.counts.set(name, (this.counts.get(name) ?? 0) + by);
  }

  get(name: string): number {
    return this.counts.get(name) ?? 0;
  }

  /** An invariant broke. */
  fail(check: string, example: string): void {
    add(this.failures, check, example);
  }

  /** A known defect reproduced: reported, not asserted. */
  finding(name: string, example: string): void {
    add(this.noted, name, example);
  }

  /**
   * A desk call refused. A conflict (the incident moved on) or a permission
   * refusal is counted; an internal or transient error is the controller's
   * fault, and an invalid request the world's: both are violations.
   */
  desk(method: string, err: unknown): void {
    const e = asCordonError(err);
    this.count(`refused ${method}: ${e.kind}`);
    if (e.kind === 'internal' || e.kind === 'transient' || e.kind === 'invalid') this.fail('desk calls', `${method}: ${e.kind}: ${e.message}`);
  }

  violations(): string[] {
    return [...this.failures].map(([name, c]) => `${name}: ${c.count} violation(s), e.g. ${c.examples.join(' | ')}`);
  }

  findings(): string[] {
    return [...this.noted].map(([name, c]) => `${name}: ${c.count}, e.g. ${c.examples.join(' | ')}`);
  }

  findingCount(name: string): number {
    return this.noted.get(name)?.count ?? 0;
  }
}

function add(m: Map<string, { count: number; examples: string[] }>, key: string, example: string): void {
  const c = m.get(key) ?? { count: 0, examples: [] };
  c.count++;
  if (c.examples.length < 3) c.examples.push(example);
  m.set(key, c);
}
