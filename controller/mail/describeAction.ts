import type { Action, Category } from '../incidents/model.js';

const DEFAULT_SMTP_PORTS = [25, 465, 587];

/**
 * An enforcement action in the customer's words: what the server experiences,
 * and, for the cuts, that the console stays reachable (so the customer knows
 * the way to repair it).
 */
export function describeAction(action: Action): string {
  switch (action.kind) {
    case 'smtp_block':
      return `outbound SMTP (ports ${(action.ports?.length ? action.ports : DEFAULT_SMTP_PORTS).join(', ')}) blocked`;
    case 'throttle':
      return `traffic limited to ${formatRate(action.rateBps)}`;
    case 'isolate':
      return 'public network isolated; management and the IPMI console remain reachable';
    case 'nic_down':
      return 'public interfaces down; the IPMI console remains reachable';
  }
}

/** A bit rate in the largest unit that keeps it readable: 10000000 → "10 Mbit/s", 1500000 → "1.5 Mbit/s". */
export function formatRate(bps: number): string {
  const units: [number, string][] = [
    [1e9, 'Gbit/s'],
    [1e6, 'Mbit/s'],
    [1e3, 'kbit/s'],
  ];
  for (const [size, unit] of units) {
    if (bps >= size) return `${Number((bps / size).toFixed(2))} ${unit}`;
  }
  return `${bps} bit/s`;
}

const CATEGORY_LABELS: Record<Category, string> = {
  spam: 'spam',
  phishing: 'phishing',
  malware: 'malware distribution',
  botnet: 'botnet activity',
  ddos: 'participation in DDoS attacks',
  scan: 'network scanning',
  brute_force: 'brute-force login attempts',
  copyright: 'copyright infringement',
  open_service: 'an abusable open service',
  auth_failure: 'authentication failures',
  child_abuse: 'child sexual abuse material',
  terrorism: 'terrorist content',
  other: 'abuse',
};

/** A complaint category as a customer reads it. */
export function describeCategory(category: Category): string {
  return CATEGORY_LABELS[category];
}
