import type { DetectionPolicy } from '../../proto/gen/cordon/v1/agent.js';

export interface DetectionSettings {
  /** Sent to every agent after its Hello. */
  policy: DetectionPolicy;
  /** At most one complaint per host and kind within this. */
  minIntervalMs: number;
}

/** The config's `detection` section as the agents' policy; undefined when detection is off. */
export function detectionFromConfig(d: {
  enabled: boolean;
  windowSeconds: number;
  smtp: { ports: number[]; newConnections: number };
  fanout: { ports: number[]; destinations: number };
  flood: { packetsPerSecond: number; maxAverageBytes: number };
  minIntervalSeconds: number;
}): DetectionSettings | undefined {
  if (!d.enabled) return undefined;
  return {
    policy: {
      enabled: true,
      windowSeconds: d.windowSeconds,
      smtpPorts: d.smtp.ports,
      smtpNewConnections: d.smtp.newConnections,
      fanoutPorts: d.fanout.ports,
      fanoutDestinations: d.fanout.destinations,
      floodPacketsPerSecond: d.flood.packetsPerSecond,
      floodMaxAverageBytes: d.flood.maxAverageBytes,
    },
    minIntervalMs: d.minIntervalSeconds * 1000,
  };
}
