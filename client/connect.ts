import { Client, Connection, type TLSConfig } from '@temporalio/client';
import type { DataConverter } from '@temporalio/common';
import { dataConverterFromEnv } from '../engine/codec.ts';
import { clientTracingInterceptors } from '../engine/tracing.ts';
import { explainConnectionError, type ConnectionOrigins } from '../config/connection.ts';
import { ConfigError } from '../errors.ts';
import { DEFAULT_NAMESPACE } from '../engine/constants.ts';

/** Where {@link connectClient} connects. */
export interface ConnectOptions {
  /** host:port of the Temporal frontend. */
  address: string;
  namespace?: string;
  /** Defaults to the AES-GCM codec when `BIZON_CODEC_KEY` is set, else Temporal's own. */
  dataConverter?: DataConverter;
  /** Where the address came from, named in the error when it cannot be reached (e.g. `TEMPORAL_ADDRESS`). */
  origin?: string;
  /** TLS (mTLS with a client certificate); `true` for the system's CAs. */
  tls?: TLSConfig | boolean;
  /** API key (Temporal Cloud), sent as `authorization: Bearer …`. */
  apiKey?: string;
  /** gRPC metadata sent with every call. */
  metadata?: Record<string, string>;
  /** The settings TLS and the key came from, named in errors. */
  origins?: Partial<ConnectionOrigins>;
}

/**
 * Connects a Temporal client. With `BIZON_CODEC_KEY` set, every payload it
 * sends is encrypted (and every one it reads decrypted). An unreachable server
 * is a {@link ConfigError} naming the address within 5 s, not a gRPC deadline.
 */
export async function connectClient(options: ConnectOptions): Promise<Client> {
  let connection: Connection;
  const tls = options.tls === true ? {} : options.tls || undefined;
  try {
    connection = await Connection.connect({
      address: options.address,
      connectTimeout: '5s',
      ...(tls ? { tls } : {}),
      ...(options.apiKey !== undefined ? { apiKey: options.apiKey } : {}),
      ...(options.metadata ? { metadata: options.metadata } : {}),
    });
  } catch (error) {
    throw new ConfigError(explainConnectionError(error, { address: options.address, tls, apiKey: options.apiKey, origins: { address: options.origin ?? 'the address given', ...options.origins } }));
  }
  const tracing = await clientTracingInterceptors();
  return new Client({
    connection,
    namespace: options.namespace ?? DEFAULT_NAMESPACE,
    dataConverter: options.dataConverter ?? dataConverterFromEnv(),
    ...(tracing.length ? { interceptors: { workflow: tracing } } : {}),
  });
}

/** Connects a client, runs `work` with it, and closes the connection whatever happens. */
export async function withClient<T>(options: ConnectOptions, work: (client: Client) => Promise<T>): Promise<T> {
  const client = await connectClient(options);
  try {
    return await work(client);
  } finally {
    await client.connection.close();
  }
}
