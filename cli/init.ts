import { existsSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { UsageError } from './common.ts';

const pascal = (name: string) => name.replace(/(^|_)([a-z0-9])/g, (_, _sep: string, letter: string) => letter.toUpperCase());

function sourceFile(name: string): string {
  const cls = `${pascal(name)}Source`;
  return `// ${cls}: a bizon-temporal source. Each get() call is one page, run by Temporal as one retryable activity.
// Try it: bizon dry-run config.yml --custom-source source.ts   Run it: bizon run config.yml --custom-source source.ts
import { z } from 'zod';
import { AbstractSource, AuthBuilder, SourceConfig, type Authenticator, type Pagination, type SourceIteration } from 'bizon-temporal';

/** The config of the source block: bizon's base fields (name, stream, sync_mode, …) and these keys of yours. */
export const ${cls}Config = SourceConfig.extend({
  api_url: z.string().describe('API base URL'),
  page_size: z.number().int().positive().default(100).describe('Records per page'),
});
export type ${cls}Config = z.infer<typeof ${cls}Config>;

export class ${cls} extends AbstractSource<${cls}Config> {
  /** The name pipelines give in source.name. */
  static override sourceName = '${name}';

  /** The streams a pipeline may choose with source.stream. */
  static override streams(): string[] {
    return ['users', 'orders'];
  }

  static override getConfigClass() {
    return ${cls}Config;
  }

  /** Applied to every request of this.session: api_key, bearer, basic, oauth, cookies, or your own Authenticator. */
  override getAuthenticator(): Authenticator | undefined {
    return this.config.authentication ? AuthBuilder.fromConfig(this.config.authentication) : undefined;
  }

  /** [true, null] when the API answers; [false, 'why'] otherwise. Called once when a sync starts. */
  async checkConnection(): Promise<[boolean, string | null]> {
    try {
      const response = await this.session.get(\`\${this.config.api_url}/health\`);
      return [response.status < 400, null];
    } catch (error) {
      return [false, String(error)];
    }
  }

  /** The number of records, for the progress line; null when the API does not say. */
  override async getTotalRecordsCount(): Promise<number | null> {
    return null;
  }

  /**
   * One page. \`pagination\` is undefined on the first call, then the nextPagination you returned.
   * An empty nextPagination ({}) ends the sync. this.session is axios: a non-2xx answer throws, and
   * Temporal retries it when it may help (429 after Retry-After, 5xx, network), not otherwise.
   */
  async get(pagination?: Pagination): Promise<SourceIteration> {
    const page = Number(pagination?.page ?? 1);
    const { data } = await this.session.get(\`\${this.config.api_url}/\${this.config.stream}\`, {
      params: { page, limit: this.config.page_size },
    });
    const records = data.items.map((item: { id: number }) => ({ id: item.id, data: item }));
    const hasMore = records.length === this.config.page_size;
    return { records, nextPagination: hasMore ? { page: page + 1 } : {} };
  }
}
`;
}

function configFile(name: string, apiUrl: string): string {
  return `# A pipeline of the ${name} source: check it, try it, then run it.
#   npx bizon example-api                                   (the local API this points at, in another terminal)
#   npx bizon check config.yml --custom-source source.ts
#   npx bizon dry-run config.yml --custom-source source.ts
#   npx bizon run config.yml --custom-source source.ts
name: ${name}-pipeline
source:
  name: ${name}
  stream: users
  api_url: ${apiUrl}
  page_size: 100
  # authentication:
  #   type: api_key
  #   params:
  #     token: BIZON_ENV_API_TOKEN       # the environment variable BIZON_ENV_API_TOKEN (or a line of ./.env)
destination:
  name: file                             # or logger, postgres, duckdb
  config:
    directory: output
`;
}

/** ` --port N` when the config points at the example API on another port than its default. */
function exampleApiPort(apiUrl: string): string {
  const url = URL.canParse(apiUrl) ? new URL(apiUrl) : undefined;
  return url && url.hostname === '127.0.0.1' && url.port && url.port !== '8765' ? ` --port ${url.port}` : '';
}

/** `bizon init source <name>`: a commented source file and a pipeline config in `<dir>/<name>/`. */
export async function initSourceCommand(name: string, options: { dir: string; apiUrl: string }): Promise<number> {
  if (!/^[a-z][a-z0-9_]*$/.test(name)) throw new UsageError(`Source name '${name}': lowercase letters, digits and _, starting with a letter (for example my_api)`);
  const target = path.resolve(options.dir, name);
  if (existsSync(target) && readdirSync(target).length > 0) throw new UsageError(`${target} already exists and is not empty: choose another name or --dir`);
  mkdirSync(target, { recursive: true });
  writeFileSync(path.join(target, 'source.ts'), sourceFile(name));
  writeFileSync(path.join(target, 'config.yml'), configFile(name, options.apiUrl));
  const relative = path.relative(process.cwd(), target) || '.';
  process.stderr.write(
    `Created ${relative}/source.ts and ${relative}/config.yml. Next:\n` +
      `  npx bizon example-api${exampleApiPort(options.apiUrl)}   # the local API the config points at (${options.apiUrl}), in another terminal\n` +
      `  npx bizon dry-run ${relative}/config.yml --custom-source ${relative}/source.ts\n` +
      `  npx bizon run ${relative}/config.yml --custom-source ${relative}/source.ts\n`,
  );
  return 0;
}
