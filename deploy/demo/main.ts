// `npm run demo [-- --keep] [-- --hosts N] [-- --ha]`: builds the namespace
// lab, runs the story of one complaint from intake to release with an
// accelerated (drill) clock, and tears the lab down. Exits 0 only if every
// check passed. --ha: the same story on PostgreSQL with three controller
// replicas, the one holding web-01's stream killed (kill -9) mid-story.
import { parseArgs } from 'node:util';
import { labDown, labUp } from '../lab/lab.js';
import { printTryIt } from '../lab/main.js';
import { labPostgresMissing } from '../lab/labPostgres.js';
import { ensureLabRequirements } from '../lab/requirements.js';
import { say } from './narrate.js';
import { runStory } from './story.js';

async function main(argv: string[]): Promise<number> {
  const { values } = parseArgs({ args: argv, options: { keep: { type: 'boolean' }, hosts: { type: 'string', default: '3' }, ha: { type: 'boolean' } } });
  // The customer answers on the page in a real browser: Debian's Chromium, like the lab's other tools.
  ensureLabRequirements(say, 'the demo', undefined, { chromium: 'chromium' });
  const ha = values.ha === true;
  const noPostgres = ha ? labPostgresMissing('the demo with --ha') : undefined;
  if (noPostgres) throw new Error(noPostgres);
  const started = Date.now();
  let keep = values.keep === true;
  let failures: readonly string[] = ['the lab did not come up'];
  const stop = () => {
    keep = false;
    say('interrupted: tearing the lab down');
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  try {
    const info = await labUp({ hosts: Number(values.hosts), say, store: ha ? 'postgresql' : 'sqlite' });
    const checks = await runStory(info);
    failures = checks.failures;
    if (keep) {
      say('the lab stays up (--keep); the controller clock stays where the drill left it');
      printTryIt(info.dir);
      if (checks.pageLink) process.stdout.write(`  the customer's page (open it in a browser on this machine): ${checks.pageLink}\n\n`);
    }
  } finally {
    if (!keep) await labDown(say);
  }
  const seconds = ((Date.now() - started) / 1000).toFixed(1);
  if (failures.length > 0) {
    say(`demo FAILED in ${seconds} s: ${failures.join('; ')}`);
    return 1;
  }
  say(`demo passed in ${seconds} s: every check saw what it should`);
  return 0;
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err: unknown) => {
    process.stderr.write(`demo: ${(err as Error).message}\n`);
    process.exit(1);
  },
);
