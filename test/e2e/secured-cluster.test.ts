import { spawn, type ChildProcess } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { startExampleApi, type ExampleApi } from '../../examples/api/server.ts';
import { makeCertificates, startSecuredTemporal, type Certificates, type SecuredTemporal } from '../secured-temporal.ts';
import { PAGE_SOURCE, runBizon, spawnBizon, tempDir, testClient, unique, writeConfig } from '../helpers.ts';

// A secured cluster and Temporal Cloud, as a client sees them: TLS in front of the suite's dev server, requiring a
// client certificate (mTLS) or an API key. The environment holds no TEMPORAL_ADDRESS of the suite's server.
const API_KEY = 'tc-key-7f3e91';
let api: ExampleApi;
let trusted: Certificates;
let other: Certificates;
let mtls: SecuredTemporal;
let keyed: SecuredTemporal;
const children: ChildProcess[] = [];

beforeAll(async () => {
  api = await startExampleApi({ datasets: { users: 25 } });
  trusted = makeCertificates('trusted-ca');
  other = makeCertificates('other-ca');
  const upstream = inject('temporalAddress');
  mtls = await startSecuredTemporal({ upstream, certificates: trusted, clientCa: trusted.caCert });
  keyed = await startSecuredTemporal({ upstream, certificates: trusted, apiKey: API_KEY });
});
afterAll(async () => {
  for (const child of children) child.kill('SIGKILL');
  await Promise.all([mtls?.close(), keyed?.close(), api?.close()]);
});

/** The environment of a machine that knows only the secured address (and what the test adds). */
function securedEnv(extra: Record<string, string>): NodeJS.ProcessEnv {
  const env = Object.fromEntries(Object.entries(process.env).filter(([key]) => !key.startsWith('TEMPORAL_') && !key.startsWith('BIZON_')));
  // No Temporal CLI profile of the machine's user: only what the test sets.
  return { ...env, NO_COLOR: '1', TEMPORAL_CONFIG_FILE: emptyProfileFile, ...extra };
}
const emptyProfileFile = path.join(tempDir(), 'temporal.toml');
writeFileSync(emptyProfileFile, '');

function pipeline(dir: string, temporal: Record<string, unknown> = {}) {
  return writeConfig(dir, {
    name: unique('secured'),
    source: { name: 'my_source', stream: 'users', api_url: api.url, page_size: 10 },
    destination: { name: 'file', config: { directory: dir } },
    engine: { temporal: { task_queue: unique('secured'), ...temporal } },
  });
}

const tlsEnv = (address: string, extra: Record<string, string> = {}) => securedEnv({ TEMPORAL_ADDRESS: address, TEMPORAL_TLS_SERVER_CA_CERT_PATH: trusted.caCert, ...extra });

describe('a cluster that requires a client certificate (mTLS)', () => {
  it('bizon run with TEMPORAL_TLS_CLIENT_CERT_PATH / _KEY_PATH syncs end to end', async () => {
    const dir = tempDir();
    const result = await runBizon(['run', pipeline(dir), '--custom-source', PAGE_SOURCE], {
      cwd: dir,
      env: tlsEnv(mtls.address, { TEMPORAL_TLS_CLIENT_CERT_PATH: trusted.clientCert, TEMPORAL_TLS_CLIENT_KEY_PATH: trusted.clientKey }),
    });
    expect(result.stderr).toContain('25 records');
    expect(result.code).toBe(0);
    expect(result.stderr).not.toContain('Warning');
  });

  it('bizon worker with TEMPORAL_TLS_* settings serves a sync that bizon run --no-worker starts through a profile of a Temporal config file', async () => {
    const dir = tempDir();
    const file = pipeline(dir);
    const taskQueue = (await import('yaml')).parse((await import('node:fs')).readFileSync(file, 'utf8')).engine.temporal.task_queue as string;
    const profile = path.join(dir, 'temporal.toml');
    writeFileSync(
      profile,
      `[profile.secured]\naddress = "${mtls.address}"\n[profile.secured.tls]\nclient_cert_path = "${trusted.clientCert}"\nclient_key_path = "${trusted.clientKey}"\nserver_ca_cert_path = "${trusted.caCert}"\n`,
    );
    const worker = spawnBizon(['worker', '--custom-source', PAGE_SOURCE, '--task-queue', taskQueue, '--log-level', 'ERROR'], {
      env: tlsEnv(mtls.address, { TEMPORAL_TLS_CLIENT_CERT_PATH: trusted.clientCert, TEMPORAL_TLS_CLIENT_KEY_PATH: trusted.clientKey }),
    });
    children.push(worker);
    const result = await runBizon(['run', file, '--no-worker', '--custom-source', PAGE_SOURCE], { cwd: dir, env: securedEnv({ TEMPORAL_CONFIG_FILE: profile, TEMPORAL_PROFILE: 'secured' }) });
    expect(result.stderr).toContain('25 records');
    expect(result.code).toBe(0);
  });

  it('engine.temporal.tls in the pipeline file (files and server_name), and TEMPORAL_GRPC_META_*: syncs end to end; every call carries the metadata', async () => {
    const dir = tempDir();
    const tls = { client_cert_path: trusted.clientCert, client_key_path: trusted.clientKey, server_ca_cert_path: trusted.caCert, server_name: 'localhost' };
    const since = mtls.metadata.length;
    const result = await runBizon(['run', pipeline(dir, { address: mtls.address, tls }), '--custom-source', PAGE_SOURCE], { cwd: dir, env: securedEnv({ TEMPORAL_GRPC_META_X_TENANT: 'acme-7' }) });
    expect(result.stderr).toContain('25 records');
    expect(result.code).toBe(0);
    const calls = mtls.metadata.slice(since);
    expect(calls.length).toBeGreaterThan(5);
    expect(calls.every((headers) => headers['x-tenant'] === 'acme-7')).toBe(true);
    // The certificate names 127.0.0.1 and localhost: another server_name is checked against it, and refused.
    const other = await runBizon(['run', pipeline(dir, { address: mtls.address, tls: { ...tls, server_name: 'temporal.elsewhere' } }), '--custom-source', PAGE_SOURCE], { cwd: dir, env: securedEnv({}) });
    expect(other.code).not.toBe(0);
    expect(other.stderr).not.toContain('25 records');
    expectOneLineError(other, /server_name|temporal\.elsewhere|certificate/i);
  });

  it('without a client certificate: fails in seconds with one line saying to set one', async () => {
    const dir = tempDir();
    const result = await runBizon(['run', pipeline(dir), '--custom-source', PAGE_SOURCE], { cwd: dir, env: tlsEnv(mtls.address) });
    expectOneLineError(result, /^Error: Temporal at \S+ \(TEMPORAL_ADDRESS\) .*client certificate; set TEMPORAL_TLS_CLIENT_CERT_PATH and TEMPORAL_TLS_CLIENT_KEY_PATH/);
    expect(result.stderr).toContain(`Temporal at ${mtls.address} (TEMPORAL_ADDRESS)`);
    expect(result.durationMs).toBeLessThan(15_000);
  });

  it('with a certificate from another CA: fails in seconds, naming the setting it came from', async () => {
    const dir = tempDir();
    const env = tlsEnv(mtls.address, { TEMPORAL_TLS_CLIENT_CERT_PATH: other.clientCert, TEMPORAL_TLS_CLIENT_KEY_PATH: other.clientKey });
    const result = await runBizon(['run', pipeline(dir), '--custom-source', PAGE_SOURCE], { cwd: dir, env });
    expectOneLineError(result, /refused the client certificate from TEMPORAL_TLS_CLIENT_CERT_PATH/);
    expect(result.durationMs).toBeLessThan(15_000);
    const worker = await runBizon(['worker', '--custom-source', PAGE_SOURCE, '--log-level', 'ERROR'], { env, timeoutMs: 30_000 });
    expectOneLineError(worker, /refused the client certificate from TEMPORAL_TLS_CLIENT_CERT_PATH/);
  });

  it("a server certificate this machine's CAs do not know: says to give its CA", async () => {
    const dir = tempDir();
    const env = securedEnv({ TEMPORAL_ADDRESS: mtls.address, TEMPORAL_TLS_CLIENT_CERT_PATH: trusted.clientCert, TEMPORAL_TLS_CLIENT_KEY_PATH: trusted.clientKey });
    const result = await runBizon(['run', pipeline(dir), '--custom-source', PAGE_SOURCE], { cwd: dir, env });
    expectOneLineError(result, /presented a certificate no trusted CA signed: set TEMPORAL_TLS_SERVER_CA_CERT_PATH/);
  });

  // `bizon run` starts its worker while its client connects: whichever fails first, on a busy machine too, the
  // user reads one clear line and exit code 2, never the stack of an unhandled rejection.
  it('with one core kept busy by another process: every refused start is the same one-line error', async () => {
    const busy = spawn(process.execPath, ['-e', 'for (;;) {}'], { stdio: 'ignore' });
    children.push(busy);
    try {
      for (let attempt = 0; attempt < 3; attempt++) {
        const dir = tempDir();
        const noCertificate = await runBizon(['run', pipeline(dir), '--custom-source', PAGE_SOURCE], { cwd: dir, env: tlsEnv(mtls.address) });
        expectOneLineError(noCertificate, /client certificate; set TEMPORAL_TLS_CLIENT_CERT_PATH/);
        const otherCa = await runBizon(['run', pipeline(dir), '--custom-source', PAGE_SOURCE], {
          cwd: dir,
          env: tlsEnv(mtls.address, { TEMPORAL_TLS_CLIENT_CERT_PATH: other.clientCert, TEMPORAL_TLS_CLIENT_KEY_PATH: other.clientKey }),
        });
        expectOneLineError(otherCa, /refused the client certificate from TEMPORAL_TLS_CLIENT_CERT_PATH/);
      }
    } finally {
      busy.kill('SIGKILL');
    }
  });
});

/** What a refused connection shows: exit code 2 and one `Error: …` line, no stack, nothing else. */
function expectOneLineError(result: { code: number | null; stderr: string; stdout: string }, message: RegExp): void {
  const lines = result.stderr.split('\n').filter((line) => line.trim() !== '');
  expect(lines, result.stderr).toHaveLength(1);
  expect(lines[0]).toMatch(/^Error: /);
  expect(lines[0]).toMatch(message);
  expect(result.stdout).toBe('');
  expect(result.code).toBe(2);
}

describe('an endpoint that requires an API key (as Temporal Cloud does)', () => {
  it('TEMPORAL_API_KEY: bizon run syncs end to end', async () => {
    const dir = tempDir();
    const result = await runBizon(['run', pipeline(dir), '--custom-source', PAGE_SOURCE], { cwd: dir, env: tlsEnv(keyed.address, { TEMPORAL_API_KEY: API_KEY }) });
    expect(result.stderr).toContain('25 records');
    expect(result.code).toBe(0);
    expect(result.stderr + result.stdout).not.toContain(API_KEY);
  });

  it('engine.temporal.api_key as a secret reference: syncs end to end; the key is in no output and not in the workflow input', async () => {
    const dir = tempDir();
    const file = pipeline(dir, { address: keyed.address, api_key: 'BIZON_ENV_TEMPORAL_KEY' });
    const result = await runBizon(['run', file, '--custom-source', PAGE_SOURCE], { cwd: dir, env: securedEnv({ BIZON_ENV_TEMPORAL_KEY: API_KEY, TEMPORAL_TLS_SERVER_CA_CERT_PATH: trusted.caCert }) });
    expect(result.stderr).toContain('25 records');
    expect(result.code).toBe(0);
    expect(result.stderr + result.stdout).not.toContain(API_KEY);
    const workflowId = /workflow: (\S+)/.exec(result.stderr)![1]!;
    const client = await testClient();
    try {
      const history = JSON.stringify((await client.workflow.getHandle(workflowId).fetchHistory()).events?.map((event) => event.workflowExecutionStartedEventAttributes?.input?.payloads?.map((payload) => Buffer.from(payload.data!).toString())));
      expect(history).toContain('BIZON_ENV_TEMPORAL_KEY');
      expect(history).not.toContain(API_KEY);
    } finally {
      await client.connection.close();
    }
  });

  it('a wrong key: fails fast naming where it came from; the key appears nowhere', async () => {
    const dir = tempDir();
    const refusedBefore = keyed.refused;
    const result = await runBizon(['run', pipeline(dir), '--custom-source', PAGE_SOURCE], { cwd: dir, env: tlsEnv(keyed.address, { TEMPORAL_API_KEY: 'not-the-key-42' }) });
    expectOneLineError(result, /refused the API key from TEMPORAL_API_KEY/);
    expect(result.stderr).toContain(`Temporal at ${keyed.address} (TEMPORAL_ADDRESS) refused the API key from TEMPORAL_API_KEY`);
    expect(result.stderr + result.stdout).not.toContain('not-the-key-42');
    expect(result.durationMs).toBeLessThan(15_000);
    expect(keyed.refused).toBeGreaterThan(refusedBefore);
  });
});
