import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runSync } from '../../client.ts';
import { quietWorkerLogs, readRows, ROOT, runBizon, startTestEngine, tempDir, unique, type TestEngine } from '../helpers.ts';

quietWorkerLogs();

const FLEET = path.join(ROOT, 'test', 'fixtures', 'fleet');
const SHOP = path.join(FLEET, 'shop.ts');
const CRM = path.join(FLEET, 'crm.ts');

let engine: TestEngine;
beforeAll(async () => {
  engine = await startTestEngine([SHOP, CRM], 'fleet');
});
afterAll(async () => engine?.stop());

describe('one worker serving many pipelines', () => {
  it('chooses the source by source.name when two sources offer the same stream', async () => {
    const syncOf = async (sourceName: string) => {
      const dir = tempDir();
      const result = await runSync(engine.client, {
        config: { name: unique('fleet'), source: { name: sourceName, stream: 'orders' }, destination: { name: 'file', config: { directory: dir } } },
        customSourceFiles: [SHOP, CRM],
        taskQueue: engine.taskQueue,
      });
      return { result, rows: readRows(path.join(dir, `${sourceName}_orders.jsonl`)) };
    };
    const shop = await syncOf('shop');
    const crm = await syncOf('crm');
    expect(shop.rows.map((row) => row.source_record_id)).toEqual(['shop-1']);
    expect(crm.rows.map((row) => row.source_record_id)).toEqual(['crm-1', 'crm-2']);
  });

  it('two sources claiming one name stop the worker when it starts, naming both', async () => {
    const result = await runBizon(['worker', '--custom-source', CRM, '--custom-source', path.join(FLEET, 'crm_again.ts'), '--task-queue', unique('fleet')]);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain("Several custom sources are named 'crm': CustomerRelations");
    expect(result.stderr).toContain('AnotherCrm');
  });

  it('source list shows the name each source answers to', async () => {
    const listed = await runBizon(['source', 'list', '--custom-source', SHOP, '--custom-source', CRM]);
    expect(listed.stdout).toContain(`shop_source | shop\tShopSource in ${SHOP}\tstreams: orders`);
    expect(listed.stdout).toContain(`crm\tCustomerRelations in ${CRM}\tstreams: orders, contacts`);
  });
});
