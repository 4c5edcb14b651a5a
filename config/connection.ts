import { existsSync, readFileSync } from 'node:fs';
import type { TLSConfig } from '@temporalio/client';
import { loadClientConfigProfile, type ClientConfigProfile } from '@temporalio/envconfig';
import type { TemporalConfig } from './pipeline.ts';
import { resolveSecretReferences } from './secrets.ts';
import { ConfigError } from '../errors.ts';

/**
 * How to reach a Temporal server: what `Connection.connect` and
 * `NativeConnection.connect` take, and where each setting came from (for
 * messages: names of settings, never their values).
 */
export interface TemporalConnectionSettings {
  address: string;
  namespace: string;
  tls?: TLSConfig;
  apiKey?: string;
  /** gRPC metadata sent with every call (`TEMPORAL_GRPC_META_*`, a profile's `grpc_meta`). */
  metadata?: Record<string, string>;
  /** The setting that gave each part, e.g. `TEMPORAL_API_KEY` or `engine.temporal.api_key`. */
  origins: ConnectionOrigins;
}

/** Names of the settings a connection was made from. */
export interface ConnectionOrigins {
  address: string;
  apiKey?: string;
  clientCert?: string;
  serverCa?: string;
}

/** What the environment and the Temporal config file give, before a pipeline's `engine.temporal`. */
export interface EnvironmentConnection {
  profile: ClientConfigProfile;
  /** The profile came from a config file (TEMPORAL_CONFIG_FILE, or the Temporal CLI's default one). */
  profileName: string | undefined;
}

/**
 * Reads the Temporal CLI's settings, as every Temporal SDK does: the profile
 * (`TEMPORAL_PROFILE`, default `default`) of the config file
 * (`TEMPORAL_CONFIG_FILE`, default `~/.config/temporalio/temporal.toml`), with
 * `TEMPORAL_ADDRESS`, `TEMPORAL_NAMESPACE`, `TEMPORAL_API_KEY`, `TEMPORAL_TLS_*`
 * and `TEMPORAL_GRPC_META_*` over it.
 */
export function environmentConnection(env: NodeJS.ProcessEnv = process.env): EnvironmentConnection {
  const vars = Object.fromEntries(Object.entries(env).filter((entry): entry is [string, string] => typeof entry[1] === 'string'));
  if (vars.TEMPORAL_CONFIG_FILE && !existsSync(vars.TEMPORAL_CONFIG_FILE)) {
    throw new ConfigError(`TEMPORAL_CONFIG_FILE points to ${vars.TEMPORAL_CONFIG_FILE}, which does not exist.`);
  }
  try {
    return { profile: loadClientConfigProfile({ overrideEnvVars: vars, configFileStrict: false }), profileName: vars.TEMPORAL_PROFILE ?? 'default' };
  } catch (error) {
    // A file without the default profile (or empty) gives nothing unless a profile was asked for by name.
    if (vars.TEMPORAL_PROFILE === undefined) {
      try {
        return { profile: loadClientConfigProfile({ overrideEnvVars: vars, disableFile: true }), profileName: undefined };
      } catch {
        // Fall through to the file's own error.
      }
    }
    throw new ConfigError(`The Temporal config file could not be read (TEMPORAL_CONFIG_FILE / TEMPORAL_PROFILE): ${(error as Error).message}`);
  }
}

const ENV = {
  address: 'TEMPORAL_ADDRESS',
  apiKey: 'TEMPORAL_API_KEY',
  clientCert: 'TEMPORAL_TLS_CLIENT_CERT_PATH',
  serverCa: 'TEMPORAL_TLS_SERVER_CA_CERT_PATH',
};

/** Where the environment's value of a setting came from: its variable, else the profile. */
function environmentOrigin(env: NodeJS.ProcessEnv, variable: string, profileName: string | undefined, alternatives: string[] = []): string {
  for (const name of [variable, ...alternatives]) if (env[name] !== undefined) return name;
  return `profile '${profileName ?? 'default'}' of the Temporal config file`;
}

function readPem(file: string, setting: string): Buffer {
  try {
    return readFileSync(file);
  } catch (error) {
    throw new ConfigError(`${setting} points to ${file}, which cannot be read: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}.`);
  }
}

/**
 * The connection for a pipeline's `engine.temporal` block over the
 * environment's settings ({@link environmentConnection}); undefined when
 * neither gives an address (then a local server is used). Precedence, per
 * setting: `engine.temporal`, then `TEMPORAL_*` variables, then the profile.
 */
export function resolveConnectionSettings(temporal: Partial<TemporalConfig> | undefined, env: NodeJS.ProcessEnv = process.env): TemporalConnectionSettings | undefined {
  const { profile, profileName } = environmentConnection(env);
  const address = temporal?.address ?? profile.address;
  const namespace = temporal?.namespace ?? profile.namespace ?? 'default';
  if (!address) return undefined;
  const origins: ConnectionOrigins = { address: temporal?.address ? 'engine.temporal.address' : environmentOrigin(env, ENV.address, profileName) };

  let apiKey = profile.apiKey;
  if (apiKey !== undefined) origins.apiKey = environmentOrigin(env, ENV.apiKey, profileName);
  const configured = temporal && (temporal.api_key !== undefined || temporal.tls !== undefined) ? resolveSecretReferences({ api_key: temporal.api_key, tls: temporal.tls }, env, 'engine.temporal') : undefined;
  if (configured?.api_key !== undefined) {
    apiKey = configured.api_key;
    origins.apiKey = 'engine.temporal.api_key';
  }

  const tls = configured?.tls;
  const fromProfile = profile.tls;
  if (tls?.disabled ?? fromProfile?.disabled) return { address, namespace, origins, ...(apiKey !== undefined ? { apiKey } : {}), ...metadataOf(profile) };
  const pem = (data: string | undefined, file: string | undefined, fileSetting: string): Buffer | undefined => {
    if (data !== undefined) return Buffer.from(data);
    if (file !== undefined) return readPem(file, fileSetting);
    return undefined;
  };
  const profilePem = (source: { path: string } | { data: string | Uint8Array } | undefined, setting: string): Buffer | undefined => {
    if (!source) return undefined;
    return 'path' in source ? readPem(source.path, setting) : Buffer.from(source.data);
  };
  let clientCert = pem(tls?.client_cert, tls?.client_cert_path, 'engine.temporal.tls.client_cert_path');
  let clientKey = pem(tls?.client_key, tls?.client_key_path, 'engine.temporal.tls.client_key_path');
  if (clientCert) origins.clientCert = tls?.client_cert !== undefined ? 'engine.temporal.tls.client_cert' : 'engine.temporal.tls.client_cert_path';
  else {
    clientCert = profilePem(fromProfile?.clientCert, ENV.clientCert);
    clientKey ??= profilePem(fromProfile?.clientKey, 'TEMPORAL_TLS_CLIENT_KEY_PATH');
    if (clientCert) origins.clientCert = environmentOrigin(env, ENV.clientCert, profileName, ['TEMPORAL_TLS_CLIENT_CERT_DATA']);
  }
  if (!clientKey && clientCert) clientKey = profilePem(fromProfile?.clientKey, 'TEMPORAL_TLS_CLIENT_KEY_PATH');
  if (Boolean(clientCert) !== Boolean(clientKey)) {
    throw new ConfigError(`A client certificate needs its key and a key its certificate: set both ${origins.clientCert?.startsWith('engine') ? 'engine.temporal.tls.client_cert_path and client_key_path' : 'TEMPORAL_TLS_CLIENT_CERT_PATH and TEMPORAL_TLS_CLIENT_KEY_PATH'}.`);
  }
  let serverCa = pem(tls?.server_ca_cert, tls?.server_ca_cert_path, 'engine.temporal.tls.server_ca_cert_path');
  if (serverCa) origins.serverCa = tls?.server_ca_cert !== undefined ? 'engine.temporal.tls.server_ca_cert' : 'engine.temporal.tls.server_ca_cert_path';
  else {
    serverCa = profilePem(fromProfile?.serverCACert, ENV.serverCa);
    if (serverCa) origins.serverCa = environmentOrigin(env, ENV.serverCa, profileName, ['TEMPORAL_TLS_SERVER_CA_CERT_DATA']);
  }
  const serverName = tls?.server_name ?? fromProfile?.serverName;
  // TLS when anything asks for it: a certificate, a CA, a server name, an API key (Temporal Cloud), or TEMPORAL_TLS.
  const wantsTls = Boolean(tls || fromProfile || clientCert || serverCa || serverName || apiKey !== undefined);
  return {
    address,
    namespace,
    origins,
    ...(apiKey !== undefined ? { apiKey } : {}),
    ...(wantsTls
      ? {
          tls: {
            ...(serverName ? { serverNameOverride: serverName } : {}),
            ...(serverCa ? { serverRootCACertificate: serverCa } : {}),
            ...(clientCert && clientKey ? { clientCertPair: { crt: clientCert, key: clientKey } } : {}),
          },
        }
      : {}),
    ...metadataOf(profile),
  };
}

function metadataOf(profile: ClientConfigProfile): { metadata?: Record<string, string> } {
  return profile.grpcMeta && Object.keys(profile.grpcMeta).length > 0 ? { metadata: profile.grpcMeta } : {};
}

/**
 * A connection failure said as what to fix: a refused API key, a missing or
 * refused client certificate, a server certificate no CA vouches for, TLS
 * against a plaintext port. Names settings, never their values.
 */
export function explainConnectionError(error: unknown, settings: Pick<TemporalConnectionSettings, 'address' | 'origins' | 'tls' | 'apiKey'>): string {
  const message = error instanceof Error ? `${error.message} ${String((error as { cause?: unknown }).cause ?? '')}` : String(error);
  const where = `Temporal at ${settings.address} (${settings.origins.address})`;
  if (/UNAUTHENTICATED|PERMISSION_DENIED|unauthori[sz]ed|invalid api key|Request unauthorized/i.test(message)) {
    return settings.apiKey !== undefined
      ? `${where} refused the API key from ${settings.origins.apiKey}: check that it is valid for this namespace.`
      : `${where} asks for credentials: set TEMPORAL_API_KEY (or engine.temporal.api_key as a secret reference), or a client certificate.`;
  }
  if (/UnknownIssuer|unable to verify|self[- ]signed certificate|certificate verify failed|unknown authority|unable to get local issuer|invalid peer certificate/i.test(message)) {
    return `${where} presented a certificate no trusted CA signed: set TEMPORAL_TLS_SERVER_CA_CERT_PATH (or engine.temporal.tls.server_ca_cert_path) to its CA${settings.origins.serverCa ? ` (the one from ${settings.origins.serverCa} does not match)` : ''}, or TEMPORAL_TLS_SERVER_NAME to the name in its certificate.`;
  }
  const certificateAlert = /certificate required|CertificateRequired|handshake failure|bad certificate|BadCertificate|unknown ca|UnknownCA|certificate unknown|tlsv13 alert|alert/i.test(message);
  // With TLS 1.3 a refused client certificate often shows only as the server closing the connection.
  // The Rust core may see it only at its first call, as hyper's `Canceled, "connection closed"`.
  const closedDuringTls = /peer closed connection without sending TLS close_notify|Connection reset by peer|ConnectionReset|ECONNRESET|broken pipe|BrokenPipe|EPIPE|hyper::Error\(Canceled|connection closed/i.test(message);
  if (settings.tls && (certificateAlert || closedDuringTls)) {
    const likely = certificateAlert ? '' : ' closed the connection as TLS began: it likely';
    return settings.origins.clientCert
      ? `${where}${likely || ''} refused the client certificate from ${settings.origins.clientCert}: use one signed by the CA the server trusts.`
      : `${where}${likely || ' closed the TLS handshake: it'} asks for a client certificate; set TEMPORAL_TLS_CLIENT_CERT_PATH and TEMPORAL_TLS_CLIENT_KEY_PATH (or engine.temporal.tls.client_cert_path and client_key_path).`;
  }
  if (/wrong version number|packet length too long|first record does not look like a TLS handshake|InvalidContentType|CorruptMessage/i.test(message)) {
    return `${where} does not speak TLS on that port: remove the TLS settings (TEMPORAL_TLS_*, TEMPORAL_API_KEY, engine.temporal.tls), or use the server's TLS port.`;
  }
  return `Cannot reach ${where}: ${(error as Error).message ?? message}. Is the server running? \`bizon server\` starts a local one.`;
}
