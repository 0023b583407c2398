import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadControllerConfig } from '../../../controller/config.js';
import { detectionFromConfig, type DetectionConfig } from '../../../controller/monitoring/detectionFromConfig.js';
import { effectiveDetection, unmatchedOverrides } from '../../../controller/monitoring/effectiveDetection.js';

const fleet: DetectionConfig = {
  enabled: true,
  windowSeconds: 60,
  smtp: { ports: [25, 465, 587], newConnections: 300 },
  fanout: { ports: [22, 3389], destinations: 100 },
  flood: { packetsPerSecond: 20_000, maxAverageBytes: 512 },
  minIntervalSeconds: 600,
};
const mx = { id: 'mx-01', customerId: 'mailco' };
const web = { id: 'web-01', customerId: 'mailco' };
const other = { id: 'web-02', customerId: 'acme' };

describe('detection overrides: the effective policy per host', () => {
  const settings = detectionFromConfig({
    ...fleet,
    customers: { mailco: { smtp: { newConnections: 2_000 }, minIntervalSeconds: 300 } },
    hosts: { 'mx-01': { smtp: { newConnections: 5_000, ports: [25] }, flood: { packetsPerSecond: 0 } } },
  })!;

  it("takes a host's keys over its customer's over the fleet's, key by key", () => {
    expect(effectiveDetection(settings, mx)).toEqual({
      policy: { enabled: true, windowSeconds: 60, smtpPorts: [25], smtpNewConnections: 5_000, fanoutPorts: [22, 3389], fanoutDestinations: 100, floodPacketsPerSecond: 0, floodMaxAverageBytes: 512 },
      minIntervalMs: 300_000,
    });
    // Another host of the customer: the customer's SMTP threshold and interval, the fleet's ports.
    expect(effectiveDetection(settings, web)).toMatchObject({ policy: { smtpPorts: [25, 465, 587], smtpNewConnections: 2_000, floodPacketsPerSecond: 20_000 }, minIntervalMs: 300_000 });
    // A host of another customer, and one the inventory does not know: the fleet's.
    expect(effectiveDetection(settings, other)).toEqual({ policy: settings.policy, minIntervalMs: 600_000 });
    expect(effectiveDetection(settings, undefined)).toEqual({ policy: settings.policy, minIntervalMs: 600_000 });
  });

  it('turns detection on for one host of a fleet where it is off, and off for one host of a fleet where it is on', () => {
    const onlyMx = detectionFromConfig({ ...fleet, enabled: false, hosts: { 'mx-01': { enabled: true } } })!;
    expect(effectiveDetection(onlyMx, mx).policy.enabled).toBe(true);
    expect(effectiveDetection(onlyMx, other).policy.enabled).toBe(false);
    expect(effectiveDetection(detectionFromConfig({ ...fleet, customers: { acme: { enabled: false } } })!, other).policy.enabled).toBe(false);
    // Off everywhere: no policy is sent to anyone.
    expect(detectionFromConfig({ ...fleet, enabled: false, hosts: { 'mx-01': { smtp: { newConnections: 1 } } } })).toBeUndefined();
  });

  it('names the overrides nothing in the inventory matches', () => {
    expect(unmatchedOverrides(settings, [web, other])).toEqual({ hosts: ['mx-01'], customers: [] });
    expect(unmatchedOverrides(settings, [other])).toEqual({ hosts: ['mx-01'], customers: ['mailco'] });
    expect(unmatchedOverrides(settings, [mx, other])).toEqual({ hosts: [], customers: [] });
  });
});

describe('detection overrides: checked as strictly as the rest of the config', () => {
  const bad = (hosts: Record<string, unknown>, customers: Record<string, unknown> = {}) => () => detectionFromConfig({ ...fleet, hosts, customers });

  it('names the full key path of an unknown key, a wrong type or a value out of range', () => {
    expect(bad({ 'mx-01': { smtp: { newConections: 5_000 } } })).toThrow(/^detection\.hosts\.mx-01\.smtp\.newConections: is not a detection key that can be overridden \(enabled, windowSeconds, smtp\.ports/);
    expect(bad({ 'mx-01': { smpt: {} } })).toThrow(/^detection\.hosts\.mx-01\.smpt: is not a detection key/);
    expect(bad({ 'mx-01': { hosts: {} } })).toThrow(/^detection\.hosts\.mx-01\.hosts: is not a detection key/);
    expect(bad({ 'mx-01': { smtp: { newConnections: '5000' } } })).toThrow(/^detection\.hosts\.mx-01\.smtp\.newConnections: must be a non-negative integer/);
    expect(bad({ 'mx-01': { smtp: { newConnections: -1 } } })).toThrow(/smtp\.newConnections: must be a non-negative integer/);
    expect(bad({ 'mx-01': { smtp: { newConnections: 2 ** 32 } } })).toThrow(/at most 4294967295/);
    expect(bad({ 'mx-01': { smtp: { ports: [25, 70_000] } } })).toThrow(/^detection\.hosts\.mx-01\.smtp\.ports: must be a non-empty list of TCP ports/);
    expect(bad({ 'mx-01': { smtp: 5_000 } })).toThrow(/^detection\.hosts\.mx-01\.smtp: must be an object \(smtp\.ports, smtp\.newConnections\)/);
    expect(bad({ 'mx-01': { windowSeconds: 0 } })).toThrow(/^detection\.hosts\.mx-01\.windowSeconds: must be a positive integer/);
    expect(bad({ 'mx-01': { flood: { maxAverageBytes: 0.5 } } })).toThrow(/flood\.maxAverageBytes: must be a positive integer/);
    expect(bad({ 'mx-01': { enabled: 'yes' } })).toThrow(/^detection\.hosts\.mx-01\.enabled: must be true or false/);
    expect(bad({ 'mx-01': 5_000 })).toThrow(/^detection\.hosts\.mx-01: must be an object of detection keys/);
    expect(bad({ 'MX 01': {} })).toThrow(/^detection\.hosts\.MX 01: is not a host id/);
    expect(bad({}, { mailco: { fanout: { destination: 5 } } })).toThrow(/^detection\.customers\.mailco\.fanout\.destination: is not a detection key/);
    expect(bad({}, { '': {} })).toThrow(/^detection\.customers\.: is not a customer id/);
    expect(bad({ 'mx-01': {} })).not.toThrow();
  });

  describe('in the config file', () => {
    const dir = mkdtempSync(join(tmpdir(), 'cordon-detection-'));
    afterAll(() => rmSync(dir, { recursive: true, force: true }));
    const load = (detection: unknown) => {
      const file = join(dir, 'controller.json');
      writeFileSync(file, JSON.stringify({ detection }));
      return loadControllerConfig({ file });
    };

    it('refuses a bad override when the config is loaded (so --check-config does), and keeps a good one', () => {
      expect(() => load({ hosts: { 'mx-01': { smtp: { newConnections: true } } } })).toThrow(/invalid configuration:\n {2}detection\.hosts\.mx-01\.smtp\.newConnections: must be a non-negative integer/);
      expect(() => load({ hosts: [] })).toThrow(/detection\.hosts: must be of type Object/);
      expect(load({ hosts: { 'mx-01': { smtp: { newConnections: 5_000 } } } }).get('detection.hosts')).toEqual({ 'mx-01': { smtp: { newConnections: 5_000 } } });
    });
  });
});
