// `npm run lab -- up [--hosts N] [--ha] | down | status`: the namespace lab on its
// own, for trying Cordon by hand (the demo builds and removes it itself).
import { parseArgs } from 'node:util';
import { join } from 'node:path';
import { say } from '../demo/narrate.js';
import { LAB_P12_PASSPHRASE, LAB_OPERATORS, LAB_REPLICAS, labCtl, labDown, labInfo, labUp } from './lab.js';
import { labPostgresMissing } from './labPostgres.js';
import { ensureLabRequirements } from './requirements.js';

const USAGE = `usage: lab up [--hosts N] [--ha] | down | status

  up       build the lab (default 3 servers) and start the controller, agents,
           BMCs and mail receiver; replaces a lab left from an earlier run;
           --ha: ${LAB_REPLICAS} controller replicas on a throw-away PostgreSQL cluster
  down     stop every lab process, delete its namespaces and files (idempotent)
  status   the running lab's agents
`;

async function main(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({ args: argv, allowPositionals: true, options: { hosts: { type: 'string', default: '3' }, ha: { type: 'boolean' }, help: { type: 'boolean', short: 'h' } } });
  const [command] = positionals;
  if (values.help || !command || positionals.length > 1) {
    process.stdout.write(USAGE);
    return values.help ? 0 : 2;
  }
  switch (command) {
    case 'up': {
      ensureLabRequirements(say);
      const missing = values.ha ? labPostgresMissing('lab up --ha') : undefined;
      if (missing) throw new Error(missing);
      const info = await labUp({ hosts: Number(values.hosts), say, store: values.ha ? 'postgresql' : 'sqlite' });
      say(`lab up: ${info.topology.hosts.map((h) => `${h.id} ${h.pub4}`).join(', ')}`);
      printTryIt(info.dir);
      return 0;
    }
    case 'down': {
      ensureLabRequirements(say);
      const r = await labDown(say);
      say(r.namespaces === 0 && r.processes === 0 ? 'no lab was up' : 'lab down');
      return 0;
    }
    case 'status': {
      const info = labInfo();
      if (!info) {
        say('no lab is up');
        return 1;
      }
      process.stdout.write(labCtl(info, LAB_OPERATORS.operator, 'agents'));
      return 0;
    }
    default:
      process.stdout.write(USAGE);
      return 2;
  }
}

export function printTryIt(dir: string): void {
  const ctl = join(dir, 'bin', 'cordonctl');
  process.stdout.write(
    [
      '',
      `  try:  ${ctl} agents`,
      `        ${ctl} incident list`,
      `        CORDON_OPERATOR=${LAB_OPERATORS.admin} ${ctl} clock advance 25h`,
      `        ip netns exec cordon-lab-h1 nft list table inet cordon`,
      `        ip -n cordon-lab-sw link show swp1     (the switch port the fallback shuts; its sshd: 10.70.0.2:22)`,
      `  desk: https://127.0.0.1:${process.env.CORDON_LAB_DESK_PORT || 8443}/ in a browser on this machine: import ${join(dir, 'pki', `operator-${LAB_OPERATORS.operator}.p12`)}`,
      `        (passphrase ${LAB_P12_PASSPHRASE}) as your certificate, and trust ${join(dir, 'pki', 'ca.crt')} for servers`,
      `  logs: ${join(dir, 'logs')}   customer mail: ${join(dir, 'mail')}`,
      '  stop: npm run lab -- down',
      '',
    ].join('\n'),
  );
}

if (import.meta.url === `file://${process.argv[1]}`) {
  main(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (err: unknown) => {
      process.stderr.write(`lab: ${(err as Error).message}\n`);
      process.exit(1);
    },
  );
}
