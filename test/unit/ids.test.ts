import { describe, expect, it } from 'vitest';
import { parseScheduleId, parseSyncWorkflowId, scheduledLauncherId, scheduleId, syncWorkflowId, syncWorkflowIdPrefix } from '../../engine/ids.ts';

const pipeline = { name: 'crm', source: { name: 'hubspot', stream: 'contacts' } };

describe('ids', () => {
  it('builds each id from the pipeline and parses it back', () => {
    expect(syncWorkflowId(pipeline)).toBe('bizon-sync:crm:hubspot:contacts');
    expect(scheduleId(pipeline)).toBe('bizon-schedule:crm:hubspot:contacts');
    expect(scheduledLauncherId(pipeline)).toBe('bizon-scheduled:crm:hubspot:contacts');
    expect(syncWorkflowId(pipeline).startsWith(syncWorkflowIdPrefix('crm'))).toBe(true);
    expect(parseSyncWorkflowId(syncWorkflowId(pipeline))).toEqual({ name: 'crm', source: 'hubspot', stream: 'contacts' });
    expect(parseScheduleId(scheduleId(pipeline))).toEqual({ name: 'crm', source: 'hubspot', stream: 'contacts' });
  });

  it.each(['crm', 'bizon-sync:crm:hubspot', 'bizon-schedule:crm:hubspot:contacts:x', 'bizon-sync::hubspot:contacts', 'other:crm:hubspot:contacts'])(
    'refuses %s as a sync workflow id',
    (id) => expect(parseSyncWorkflowId(id)).toBeUndefined(),
  );

  it('tells a schedule id from a sync workflow id', () => {
    expect(parseScheduleId(syncWorkflowId(pipeline))).toBeUndefined();
    expect(parseSyncWorkflowId(scheduleId(pipeline))).toBeUndefined();
  });
});
