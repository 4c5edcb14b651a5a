import { describe, expect, it } from 'vitest';
import { asJsonLines } from '../../cli/json-output.ts';

const at = new Date('2026-12-03T10:00:00.000Z');
const parse = (text: string) => text.trimEnd().split('\n').map((line) => JSON.parse(line) as Record<string, unknown>);

describe('asJsonLines (--log-format json)', () => {
  it('one write of a message and its indented details is one object; a JSON line passes unchanged', () => {
    const sdk = '{"time":"2026-12-03T09:59:59.000Z","level":"DEBUG","message":"Page read","iteration":6}';
    const out = asJsonLines(`✖ Sync failed: p (s/users)\n  activity StartToClose timeout\n  Web UI: http://x\n${sdk}\n`, at);
    expect(parse(out)).toEqual([
      { time: at.toISOString(), level: 'ERROR', message: '✖ Sync failed: p (s/users)', details: ['activity StartToClose timeout', 'Web UI: http://x'] },
      JSON.parse(sdk),
    ]);
  });

  it('levels follow what the line says; terminal redraw codes and blank lines vanish', () => {
    expect(parse(asJsonLines('Error: the config file p.yml does not exist\n', at))[0]).toMatchObject({ level: 'ERROR' });
    expect(parse(asJsonLines('Warning: a literal token\n', at))[0]).toMatchObject({ level: 'WARN', message: 'Warning: a literal token' });
    expect(parse(asJsonLines('(node:42) ExperimentalWarning: x\n', at))[0]).toMatchObject({ level: 'WARN' });
    expect(parse(asJsonLines('\r\x1b[2Kextracting · page 3\n\n', at))).toEqual([{ time: at.toISOString(), level: 'INFO', message: 'extracting · page 3' }]);
    expect(asJsonLines('\n\n', at)).toBe('');
  });
});
