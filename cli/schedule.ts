import { preparePipeline } from '../client.ts';
import {
  backfillSchedule,
  countSkippedRuns,
  deleteSchedule,
  describeSchedule,
  listSchedules,
  pauseSchedule,
  scheduleSync,
  triggerSchedule,
  unpauseSchedule,
} from '../schedules.ts';
import { ConfigError } from '../errors.ts';
import type { OverlapPolicy } from '../workflows/types.ts';
import { withServerClient } from './connect.ts';

export interface ScheduleCreateOptions {
  cron?: string;
  every?: string;
  customSource: string[];
  overlap: OverlapPolicy;
  paused: boolean;
  note?: string;
  allowLiteralSecrets?: boolean;
}

/** `bizon schedule create <config> (--cron <expr> | --every <interval>)` */
export async function scheduleCreateCommand(configFile: string, options: ScheduleCreateOptions): Promise<number> {
  if (Boolean(options.cron) === Boolean(options.every)) throw new ConfigError('Give exactly one of --cron <expression> and --every <interval> (for example --every 1h)');
  if (options.overlap !== 'skip' && options.overlap !== 'wait') throw new ConfigError(`--overlap must be skip or wait, not '${options.overlap}'`);
  const prepared = await preparePipeline({ config: configFile, customSourceFiles: options.customSource, checkSecrets: false, allowLiteralSecrets: options.allowLiteralSecrets });
  for (const warning of prepared.warnings) process.stderr.write(`Warning: ${warning}\n`);
  return withServerClient('streams' in prepared ? prepared.streams[0]!.pipeline : prepared.pipeline, async (client) => {
    const spec = options.cron ? { cron: options.cron } : { every: options.every! };
    const handle = await scheduleSync(client, prepared, { ...spec, overlap: options.overlap, paused: options.paused, note: options.note });
    process.stdout.write(`Created schedule ${handle.scheduleId} (${options.cron ? `cron ${options.cron}` : `every ${options.every}`}, overlap: ${options.overlap})\n`);
    process.stderr.write('Workers on its task queue need the custom source files and the secrets: `bizon worker --custom-source ...`\n');
    return 0;
  });
}

/** `bizon schedule list` */
export async function scheduleListCommand(): Promise<number> {
  return withServerClient(undefined, async (client) => {
    const schedules = await listSchedules(client);
    if (schedules.length === 0) process.stdout.write('No bizon schedules.\n');
    for (const schedule of schedules) {
      const next = schedule.info.nextActionTimes[0]?.toISOString() ?? '-';
      const paused = schedule.state.paused ? 'paused' : 'active';
      process.stdout.write(`${schedule.scheduleId}\t${paused}\tnext: ${next}\n`);
    }
    return 0;
  });
}

/** `bizon schedule describe <schedule>` */
export async function scheduleDescribeCommand(idOrName: string): Promise<number> {
  return withServerClient(undefined, async (client) => {
    const description = await describeSchedule(client, idOrName);
    const recent = description.info.recentActions.map((action) => `  ${action.takenAt.toISOString()} → ${action.action.workflow.workflowId}`);
    process.stdout.write(
      [
        `schedule: ${description.scheduleId}`,
        `state: ${description.state.paused ? 'paused' : 'active'}${description.state.note ? ` (${description.state.note})` : ''}`,
        `spec: ${JSON.stringify(description.spec)}`,
        `next runs: ${description.info.nextActionTimes.map((date) => date.toISOString()).join(', ') || '-'}`,
        `runs so far: ${description.info.numActionsTaken} (of the recent ones, skipped because a sync of the pipeline was running: ${await countSkippedRuns(client, description)})`,
        'recent runs:',
        ...(recent.length ? recent : ['  -']),
      ].join('\n') + '\n',
    );
    return 0;
  });
}

/** `bizon schedule trigger|pause|unpause|delete <schedule>` */
export async function scheduleActionCommand(action: 'trigger' | 'pause' | 'unpause' | 'delete', idOrName: string, note?: string): Promise<number> {
  return withServerClient(undefined, async (client) => {
    if (action === 'trigger') await triggerSchedule(client, idOrName);
    else if (action === 'pause') await pauseSchedule(client, idOrName, note);
    else if (action === 'unpause') await unpauseSchedule(client, idOrName, note);
    else await deleteSchedule(client, idOrName);
    process.stdout.write(`${action === 'delete' ? 'Deleted' : action === 'trigger' ? 'Triggered' : action === 'pause' ? 'Paused' : 'Unpaused'} ${idOrName}\n`);
    return 0;
  });
}

/** `bizon schedule backfill <schedule> --start <iso> --end <iso>` */
export async function scheduleBackfillCommand(idOrName: string, options: { start: string; end: string }): Promise<number> {
  const start = new Date(options.start);
  const end = new Date(options.end);
  if (Number.isNaN(start.getTime()) || Number.isNaN(end.getTime()) || start >= end) {
    throw new ConfigError('--start and --end must be dates (ISO 8601) with --start before --end');
  }
  return withServerClient(undefined, async (client) => {
    await backfillSchedule(client, idOrName, start, end);
    process.stdout.write(`Backfilling ${idOrName} from ${start.toISOString()} to ${end.toISOString()}\n`);
    return 0;
  });
}
