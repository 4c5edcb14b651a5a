import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { parsePipelineConfig } from '../../config/pipeline.ts';
import { explainConnectionError, resolveConnectionSettings } from '../../config/connection.ts';
import { tempDir } from '../helpers.ts';

/** A Temporal CLI config file with two profiles, and PEM files for the second. */
function profileFile(): { file: string; dir: string } {
  const dir = tempDir();
  for (const name of ['ca.pem', 'client.pem', 'client.key']) writeFileSync(path.join(dir, name), `-----BEGIN ${name}-----\n`);
  const file = path.join(dir, 'temporal.toml');
  writeFileSync(
    file,
    [
      '[profile.default]',
      'address = "localhost:7233"',
      '',
      '[profile.prod]',
      'address = "temporal.prod.internal:7233"',
      'namespace = "syncs"',
      '[profile.prod.tls]',
      `client_cert_path = "${path.join(dir, 'client.pem')}"`,
      `client_key_path = "${path.join(dir, 'client.key')}"`,
      `server_ca_cert_path = "${path.join(dir, 'ca.pem')}"`,
      'server_name = "temporal.prod"',
      '',
    ].join('\n'),
  );
  return { file, dir };
}

describe('Temporal connection settings', () => {
  it('no address from anywhere means the local server; a profile that is not in the file is named', () => {
    const file = path.join(tempDir(), 'temporal.toml');
    writeFileSync(file, '[profile.default]\nnamespace = "syncs"\n');
    expect(resolveConnectionSettings(undefined, { TEMPORAL_CONFIG_FILE: file })).toBeUndefined();
    expect(() => resolveConnectionSettings(undefined, { TEMPORAL_CONFIG_FILE: file, TEMPORAL_PROFILE: 'none-such' })).toThrow("The Temporal config file could not be read (TEMPORAL_CONFIG_FILE / TEMPORAL_PROFILE): Profile 'none-such' not found in config data");
  });

  it('a profile of the Temporal config file (TEMPORAL_CONFIG_FILE, TEMPORAL_PROFILE) selects address, namespace and mTLS', () => {
    const { file } = profileFile();
    const settings = resolveConnectionSettings(undefined, { TEMPORAL_CONFIG_FILE: file, TEMPORAL_PROFILE: 'prod' })!;
    expect(settings).toMatchObject({ address: 'temporal.prod.internal:7233', namespace: 'syncs', tls: { serverNameOverride: 'temporal.prod' } });
    // The files' contents, each read from the path the profile gives.
    expect(settings.tls?.clientCertPair?.crt.toString()).toBe('-----BEGIN client.pem-----\n');
    expect(settings.tls?.clientCertPair?.key.toString()).toBe('-----BEGIN client.key-----\n');
    expect(settings.tls?.serverRootCACertificate?.toString()).toBe('-----BEGIN ca.pem-----\n');
    expect(settings.origins).toEqual({ address: "profile 'prod' of the Temporal config file", clientCert: "profile 'prod' of the Temporal config file", serverCa: "profile 'prod' of the Temporal config file" });
  });

  it('TEMPORAL_* variables override the profile; engine.temporal overrides both', () => {
    const { file } = profileFile();
    const env = { TEMPORAL_CONFIG_FILE: file, TEMPORAL_PROFILE: 'prod', TEMPORAL_ADDRESS: 'env-host:7233', TEMPORAL_API_KEY: 'key-from-env', BIZON_ENV_KEY: 'key-from-config' };
    expect(resolveConnectionSettings(undefined, env)).toMatchObject({ address: 'env-host:7233', namespace: 'syncs', apiKey: 'key-from-env', origins: { address: 'TEMPORAL_ADDRESS', apiKey: 'TEMPORAL_API_KEY' } });
    const pipeline = parsePipelineConfig({ name: 'p', source: { name: 'dummy', stream: 'plants' }, destination: { name: 'logger' }, engine: { temporal: { address: 'config-host:7233', namespace: 'ns', api_key: 'BIZON_ENV_KEY' } } });
    expect(resolveConnectionSettings(pipeline.engine.temporal, env)).toMatchObject({ address: 'config-host:7233', namespace: 'ns', apiKey: 'key-from-config', origins: { address: 'engine.temporal.address', apiKey: 'engine.temporal.api_key' } });
  });

  it('an API key turns TLS on (Temporal Cloud); TEMPORAL_TLS=false or tls.disabled keeps it off', () => {
    expect(resolveConnectionSettings(undefined, { TEMPORAL_ADDRESS: 'ns.acct.tmprl.cloud:7233', TEMPORAL_API_KEY: 'k' })?.tls).toEqual({});
    expect(resolveConnectionSettings(undefined, { TEMPORAL_ADDRESS: 'h:7233' })?.tls).toBeUndefined();
    expect(resolveConnectionSettings({ address: 'h:7233', tls: { disabled: true } }, { TEMPORAL_API_KEY: 'k' })?.tls).toBeUndefined();
  });

  it('refuses a credential written in the pipeline config (it would be kept in workflow history)', () => {
    const config = (temporal: Record<string, unknown>) => ({ name: 'p', source: { name: 'dummy', stream: 'plants' }, destination: { name: 'logger' }, engine: { temporal } });
    expect(() => parsePipelineConfig(config({ api_key: 'sk-live-123' }))).toThrow(/engine\.temporal\.api_key.*must be a secret reference/s);
    expect(() => parsePipelineConfig(config({ tls: { client_key: '-----BEGIN PRIVATE KEY-----' } }))).toThrow(/engine\.temporal\.tls\.client_key.*must be a secret reference/s);
    expect(() => parsePipelineConfig(config({ api_key: '${env://TEMPORAL_CLOUD_KEY}' }))).not.toThrow();
  });

  it('names the file a certificate setting points to when it is missing, and a key without its certificate', () => {
    expect(() => resolveConnectionSettings(undefined, { TEMPORAL_ADDRESS: 'h:7233', TEMPORAL_TLS_SERVER_CA_CERT_PATH: '/nope/ca.pem' })).toThrow(/TEMPORAL_TLS_SERVER_CA_CERT_PATH points to \/nope\/ca\.pem, which cannot be read: ENOENT/);
    const { dir } = profileFile();
    expect(() => resolveConnectionSettings(undefined, { TEMPORAL_ADDRESS: 'h:7233', TEMPORAL_TLS_CLIENT_KEY_PATH: path.join(dir, 'client.key') })).toThrow(/set both TEMPORAL_TLS_CLIENT_CERT_PATH and TEMPORAL_TLS_CLIENT_KEY_PATH/);
  });

  it('explains what a failure says in terms of the setting to fix, never its value', () => {
    const settings = { address: 'h:7233', tls: {}, apiKey: 'secret-key-1', origins: { address: 'TEMPORAL_ADDRESS', apiKey: 'TEMPORAL_API_KEY' } };
    const refused = explainConnectionError(new Error('16 UNAUTHENTICATED: invalid API key'), settings);
    expect(refused).toBe('Temporal at h:7233 (TEMPORAL_ADDRESS) refused the API key from TEMPORAL_API_KEY: check that it is valid for this namespace.');
    expect(refused).not.toContain('secret-key-1');
  });

  it("a TLS connection the server closes at the worker's first call is a refused or missing client certificate (seen under load)", () => {
    const closed = new Error(`Failed to call GetSystemInfo: code: 'The operation was cancelled', message: "operation was canceled", source: tonic::transport::Error(Transport, hyper::Error(Canceled, "connection closed"))`);
    const base = { address: 'h:7233', tls: {}, origins: { address: 'TEMPORAL_ADDRESS' } };
    expect(explainConnectionError(closed, base)).toBe(
      'Temporal at h:7233 (TEMPORAL_ADDRESS) closed the connection as TLS began: it likely asks for a client certificate; set TEMPORAL_TLS_CLIENT_CERT_PATH and TEMPORAL_TLS_CLIENT_KEY_PATH (or engine.temporal.tls.client_cert_path and client_key_path).',
    );
    expect(explainConnectionError(closed, { ...base, origins: { ...base.origins, clientCert: 'TEMPORAL_TLS_CLIENT_CERT_PATH' } })).toMatch(/likely refused the client certificate from TEMPORAL_TLS_CLIENT_CERT_PATH/);
    // Without TLS, a closed connection is no certificate matter.
    expect(explainConnectionError(closed, { address: 'h:7233', origins: { address: 'TEMPORAL_ADDRESS' } })).toMatch(/^Cannot reach Temporal at h:7233/);
  });
});
