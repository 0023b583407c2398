/** Prints one timestamped line of the demo's story. */
export function say(line: string): void {
  const t = new Date().toISOString().slice(11, 23);
  process.stdout.write(`[${t}] ${line}\n`);
}

/** Records a check the demo makes; the demo exits non-zero if any failed. */
export class Checks {
  private failed: string[] = [];

  ok(what: string, passed: boolean, detail = ''): boolean {
    say(`${passed ? 'PASS' : 'FAIL'} ${what}${detail ? ` (${detail})` : ''}`);
    if (!passed) this.failed.push(what);
    return passed;
  }

  get failures(): readonly string[] {
    return this.failed;
  }
}
