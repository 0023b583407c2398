let labOffsetMs: number | undefined;

/** From now on every line also shows the lab's incident clock, `offsetMs` ahead of the wall clock. */
export function setLabClockOffset(offsetMs: number): void {
  labOffsetMs = offsetMs;
}

/** Prints one timestamped line of the demo's story (with the lab clock once it runs). */
export function say(line: string): void {
  const now = Date.now();
  const wall = new Date(now).toISOString().slice(11, 23);
  const lab = labOffsetMs === undefined ? '' : ` | lab ${new Date(now + labOffsetMs).toISOString().slice(5, 16).replace('T', ' ')}`;
  process.stdout.write(`[${wall}${lab}] ${line}\n`);
}

/** Prints a block of command output under the current line, indented. */
export function show(text: string): void {
  process.stdout.write(text.replace(/^(?=.)/gm, '      '));
}

/** Records a check the demo makes; the demo exits non-zero if any failed. */
export class Checks {
  private failed: string[] = [];
  /** The customer page link the story answered through; `--keep` prints it for a person to open. */
  pageLink: string | undefined;

  ok(what: string, passed: boolean, detail = ''): boolean {
    say(`${passed ? 'PASS' : 'FAIL'} ${what}${detail ? ` (${detail})` : ''}`);
    if (!passed) this.failed.push(what);
    return passed;
  }

  get failures(): readonly string[] {
    return this.failed;
  }
}
