/** Finding the `temporal` CLI, free ports on 127.0.0.1 and a listening address, for the servers bizon starts. */
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { createServer, Socket } from 'node:net';
import path from 'node:path';
import { ConfigError } from '../errors.ts';

/**
 * Finds the `temporal` CLI: `TEMPORAL_CLI_PATH`, then `PATH`, then the
 * Python scripts directory where `scripts/install-temporal.sh` puts it.
 * Returns undefined when there is none; nothing is ever downloaded.
 */
export function findTemporalBinary(env: NodeJS.ProcessEnv = process.env): string | undefined {
  if (env.TEMPORAL_CLI_PATH) {
    if (!existsSync(env.TEMPORAL_CLI_PATH)) throw new ConfigError(`TEMPORAL_CLI_PATH points to ${env.TEMPORAL_CLI_PATH}, which does not exist`);
    return env.TEMPORAL_CLI_PATH;
  }
  for (const dir of (env.PATH ?? '').split(path.delimiter)) {
    if (!dir) continue;
    const candidate = path.join(dir, 'temporal');
    if (existsSync(candidate)) return candidate;
  }
  for (const python of ['python3', 'python']) {
    const result = spawnSync(python, ['-c', 'import sysconfig;print(sysconfig.get_path("scripts"))'], { encoding: 'utf8' });
    if (result.status !== 0) continue;
    const candidate = path.join(result.stdout.trim(), 'temporal');
    if (existsSync(candidate)) return candidate;
  }
  return undefined;
}

/**
 * A free TCP port on 127.0.0.1 for a server this process is about to start.
 *
 * Chosen at random below the kernel's ephemeral range: ports there are handed
 * out to every `listen(0)` and every outgoing connection, so one picked from
 * it can be taken before the server binds it. A port is never given twice by
 * one process.
 */
export async function freePort(): Promise<number> {
  const [low, high] = portsOutsideEphemeralRange();
  for (let tries = 0; tries < 200; tries++) {
    const port = low + Math.floor(Math.random() * (high - low));
    if (issuedPorts.has(port)) continue;
    if (await canBind(port)) {
      issuedPorts.add(port);
      return port;
    }
  }
  return anyFreePort();
}

const issuedPorts = new Set<number>();

/** Ports no `listen(0)` or outgoing connection is given: below (or above) `ip_local_port_range`. */
function portsOutsideEphemeralRange(): [number, number] {
  let [start, end] = [32768, 60999];
  try {
    const range = readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/).map(Number);
    if (range.length === 2 && range.every(Number.isInteger)) [start, end] = range as [number, number];
  } catch {
    // Not Linux: the IANA dynamic range is the usual one.
    [start, end] = [49152, 65535];
  }
  if (start - 10_000 >= 2_000) return [10_000, start];
  if (65_535 - end >= 2_000) return [end + 1, 65_536];
  return [1_024, 65_536];
}

function canBind(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.unref();
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });
}

function anyFreePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => (typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port'))));
    });
  });
}

/** Whether something accepts TCP connections at host:port. */
export async function isListening(address: string, timeoutMs = 500): Promise<boolean> {
  const [host, portText] = address.includes(':') ? [address.slice(0, address.lastIndexOf(':')), address.slice(address.lastIndexOf(':') + 1)] : [address, '7233'];
  return new Promise((resolve) => {
    const socket = new Socket();
    const done = (result: boolean) => {
      socket.destroy();
      resolve(result);
    };
    socket.setTimeout(timeoutMs, () => done(false));
    socket.once('error', () => done(false));
    socket.connect(Number(portText), host, () => done(true));
  });
}
