import { createCipheriv, createDecipheriv, createHash, randomBytes } from 'node:crypto';
import path from 'node:path';
import type { Client } from '@temporalio/client';
import type { DataConverter, Payload, PayloadCodec } from '@temporalio/common';
import proto from '@temporalio/proto';
import { ConfigError } from '../errors.ts';
import { PACKAGE_ROOT } from './package-root.ts';
import { CODEC_KEY_ENV } from './constants.ts';

/** The environment variable holding the codec key: 32 bytes, base64. When it is set, the codec is on. */
export { CODEC_KEY_ENV };
/** The environment variable holding the codec server's token; a random one is made when it is not set. */
export const CODEC_SERVER_TOKEN_ENV = 'BIZON_CODEC_SERVER_TOKEN';
const ENCODING = 'binary/encrypted';
const IV_BYTES = 12;
const TAG_BYTES = 16;
const { Payload: PayloadMessage } = proto.temporal.api.common.v1;

/**
 * Encrypts every payload (workflow input, activity arguments and results,
 * memo values, failure messages) with AES-256-GCM before it reaches Temporal,
 * so nothing in history is readable without the key. Search attributes and
 * memo keys stay in clear text: Temporal must index them (bizon's hold only names).
 */
export class AesGcmCodec implements PayloadCodec {
  readonly keyId: string;

  constructor(private readonly key: Buffer) {
    if (key.length !== 32) throw new ConfigError(`${CODEC_KEY_ENV} must be 32 bytes, base64-encoded (openssl rand -base64 32); it is ${key.length} bytes`);
    this.keyId = createHash('sha256').update(key).digest('hex').slice(0, 16);
  }

  async encode(payloads: Payload[]): Promise<Payload[]> {
    return payloads.map((payload) => {
      const iv = randomBytes(IV_BYTES);
      const cipher = createCipheriv('aes-256-gcm', this.key, iv);
      const plain = PayloadMessage.encode(payload).finish();
      const sealed = Buffer.concat([iv, cipher.update(plain), cipher.final(), cipher.getAuthTag()]);
      return {
        metadata: { encoding: Buffer.from(ENCODING), 'encryption-key-id': Buffer.from(this.keyId) },
        data: sealed,
      };
    });
  }

  async decode(payloads: Payload[]): Promise<Payload[]> {
    return payloads.map((payload) => {
      if (Buffer.from(payload.metadata?.encoding ?? []).toString() !== ENCODING) return payload;
      const keyId = Buffer.from(payload.metadata?.['encryption-key-id'] ?? []).toString();
      if (keyId !== this.keyId) throw new ConfigError(`A payload was encrypted with key ${keyId}, not with this ${CODEC_KEY_ENV} (${this.keyId})`);
      const sealed = Buffer.from(payload.data ?? []);
      const decipher = createDecipheriv('aes-256-gcm', this.key, sealed.subarray(0, IV_BYTES));
      decipher.setAuthTag(sealed.subarray(sealed.length - TAG_BYTES));
      const plain = Buffer.concat([decipher.update(sealed.subarray(IV_BYTES, sealed.length - TAG_BYTES)), decipher.final()]);
      return PayloadMessage.decode(plain) as Payload;
    });
  }
}

/** The codec of `BIZON_CODEC_KEY`, or undefined when it is not set. */
export function codecFromEnv(env: NodeJS.ProcessEnv = process.env): AesGcmCodec | undefined {
  const value = env[CODEC_KEY_ENV];
  return value ? new AesGcmCodec(Buffer.from(value, 'base64')) : undefined;
}

/** Moves failure messages and stack traces into an encoded payload, so the codec encrypts them too. */
export const ENCRYPTED_FAILURES_CONVERTER = path.join(PACKAGE_ROOT, 'engine', 'failure-converter.cjs');

/**
 * The data converter of clients and workers: with `BIZON_CODEC_KEY` set, the
 * codec, and failures whose message and stack are encoded (so encrypted) too.
 */
export function dataConverterFromEnv(env: NodeJS.ProcessEnv = process.env): DataConverter | undefined {
  const codec = codecFromEnv(env);
  return codec ? { payloadCodecs: [codec], failureConverterPath: ENCRYPTED_FAILURES_CONVERTER } : undefined;
}

/** Decodes a payload the way the client's data converter encoded it (codecs, e.g. encryption, undone last to first). */
export async function decodePayload<T>(client: Client, payload: Payload): Promise<T> {
  const { payloadConverter, payloadCodecs } = client.options.loadedDataConverter;
  let payloads = [payload];
  for (const codec of [...payloadCodecs].reverse()) payloads = await codec.decode(payloads);
  return payloadConverter.fromPayload<T>(payloads[0]!);
}
