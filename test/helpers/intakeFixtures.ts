import { join } from 'node:path';
import { REPO_ROOT } from './paths.js';

/** The shared real abuse reports, beside the checkout (`../shared`), wherever the checkout is (CI clones elsewhere). */
export const SHARED_REPORTS = join(REPO_ROOT, '..', 'shared', 'fixtures', 'abuse-reports');

/** What a fixture's expected.json states. */
export interface ExpectedFixture {
  ip: string[];
  category: string | null;
  eventTime: string | null;
  reporterKind: string;
  traps: string[];
}
