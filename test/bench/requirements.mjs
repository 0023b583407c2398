// `npm run bench`'s first step: root, and the Debian packages the benchmarks
// run (the lab's tools; iperf3 for nft-set-scaling's flood; postgresql for the
// engines side by side and the replicas), installed as `npm run demo`
// installs its own (apt-get, saying so) or named in one line when this
// machine cannot (not root, no apt-get).
import { ensureLabRequirements } from '../../dist/deploy/lab/requirements.js';

try {
  ensureLabRequirements((line) => console.log(line), 'npm run bench', undefined, { iperf3: 'iperf3', pg_lsclusters: 'postgresql' });
} catch (err) {
  console.error(`npm run bench: ${err.message}`);
  process.exit(1);
}
