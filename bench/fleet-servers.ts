/** The servers bench/fleet.ts runs a fleet on, what they cost in CPU, and what they did per page (their own metrics). */
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { startDevServer, type DevServerOptions } from '../engine/temporal-server.ts';
import { startProductionTemporal } from '../test/production-temporal.ts';

export const SERVER_OPTIONS: Record<string, Partial<DevServerOptions>> = {
  bizon: {},
  default: { sqlitePragmas: {} },
  wal: { sqlitePragmas: { journal_mode: 'wal', synchronous: 'normal' } },
};

/** A Temporal server under test: where it answers, what it has cost so far, its metrics. */
export interface BenchServer {
  address: string;
  metricsUrl: string;
  /** CPU ms of the server (and of its database, when that is a process of its own). */
  cpuMs(): number;
  stop(): Promise<void>;
}

export async function startServer(name: string): Promise<BenchServer> {
  if (name === 'real') {
    const server = await startProductionTemporal({ durable: true });
    await server.createNamespace('default');
    return { address: server.address, metricsUrl: server.metricsUrl, cpuMs: () => Object.values(server.cpuMs()).reduce((sum, ms) => sum + ms, 0), stop: () => server.stop() };
  }
  if (!SERVER_OPTIONS[name]) throw new Error(`--servers: no server '${name}' (bizon, default, wal, real)`);
  const server = await startDevServer({ ui: false, dbFile: path.join(mkdtempSync(path.join(tmpdir(), 'bench-fleet-server-')), 'temporal.db'), ...SERVER_OPTIONS[name] });
  return { address: server.address, metricsUrl: server.metricsUrl, cpuMs: () => cpuMs(server.process.pid!), stop: () => server.stop() };
}

/** CPU ms (user + system) a process has used since it started. */
export function cpuMs(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return (Number(fields[11]) + Number(fields[12])) * 10;
}

/** The server's request counters (API, persistence, visibility, history tasks), summed by operation. */
export async function serverCalls(server: BenchServer): Promise<Map<string, number>> {
  const counters = new Map<string, number>();
  const text = await (await fetch(server.metricsUrl)).text();
  for (const line of text.split('\n')) {
    const match = /^(service_requests|persistence_requests|visibility_persistence_requests|task_requests)\{(.*)\} (\S+)$/.exec(line);
    if (!match) continue;
    const labels = Object.fromEntries([...match[2]!.matchAll(/(\w+)="([^"]*)"/g)].map((label) => [label[1]!, label[2]!]));
    const key = `${match[1]} ${labels.operation ?? labels.task_type ?? '?'}${labels.service_name ? ` (${labels.service_name})` : ''}`;
    counters.set(key, (counters.get(key) ?? 0) + Number(match[3]));
  }
  return counters;
}

/** Per-page deltas of the server's counters, one column per mode, the busiest first. */
export function callsTable(perMode: Map<string, Map<string, number>>): string {
  const keys = new Set([...perMode.values()].flatMap((calls) => [...calls.keys()]));
  const total = (key: string) => Math.max(...[...perMode.values()].map((calls) => calls.get(key) ?? 0));
  const rows = [...keys].filter((key) => total(key) >= 0.05).sort((a, b) => total(b) - total(a));
  const header = `${'server calls per page'.padEnd(70)}${[...perMode.keys()].map((mode) => mode.padStart(11)).join('')}`;
  return [header, ...rows.map((key) => `${key.slice(0, 69).padEnd(70)}${[...perMode.values()].map((calls) => (calls.get(key) ?? 0).toFixed(2).padStart(11)).join('')}`)].join('\n');
}
