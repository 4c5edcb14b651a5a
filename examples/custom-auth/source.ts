// A custom authenticator: an API key header plus an HMAC signature of each request.
import { createHmac } from 'node:crypto';
import type { InternalAxiosRequestConfig } from 'axios';
import axios from 'axios';
import { z } from 'zod';
import { AbstractSource, SourceConfig, type Authenticator, type Pagination, type SourceIteration } from 'bizon-temporal';

export class CustomAuth implements Authenticator {
  constructor(
    private readonly apiKey: string,
    private readonly secret: string,
  ) {}

  apply(request: InternalAxiosRequestConfig): InternalAxiosRequestConfig {
    request.headers.set('X-API-Key', this.apiKey);
    request.headers.set('X-Signature', this.sign(request));
    return request;
  }

  private sign(request: InternalAxiosRequestConfig): string {
    const url = new URL(axios.getUri(request));
    return createHmac('sha256', this.secret)
      .update(`${(request.method ?? 'get').toUpperCase()} ${url.pathname}${url.search}`)
      .digest('hex');
  }
}

export const SignedSourceConfig = SourceConfig.extend({
  api_url: z.string().describe('API base URL'),
  api_key: z.string().describe('API key'),
  api_secret: z.string().describe('Secret used to sign requests'),
  page_size: z.number().int().positive().default(100).describe('Records per page'),
});
export type SignedSourceConfig = z.infer<typeof SignedSourceConfig>;

export class SignedSource extends AbstractSource<SignedSourceConfig> {
  static override streams(): string[] {
    return ['users', 'orders'];
  }

  static override getConfigClass() {
    return SignedSourceConfig;
  }

  override getAuthenticator(): Authenticator {
    return new CustomAuth(this.config.api_key, this.config.api_secret);
  }

  async checkConnection(): Promise<[boolean, string | null]> {
    const response = await this.session.get(`${this.config.api_url}/health`);
    return [response.status < 400, null];
  }

  async get(pagination?: Pagination): Promise<SourceIteration> {
    const page = Number(pagination?.page ?? 1);
    const { data } = await this.session.get(`${this.config.api_url}/signed/${this.config.stream}`, {
      params: { page, limit: this.config.page_size },
    });
    const records = data.items.map((item: { id: number }) => ({ id: String(item.id), data: item }));
    return { records, nextPagination: records.length === this.config.page_size ? { page: page + 1 } : {} };
  }
}
