import { readFileSync } from 'fs';
import { join } from 'path';
import { dataFrameFromJSON, type DataFrame, type DataFrameJSON } from '@grafana/data';

/**
 * The real plugin binary's recorded answers over rows the real agent captured (test/frontend/record-netprofile.js;
 * fixtures/ds-query-netprofile.recording.json says when and how), as Grafana hands them to a panel.
 */
export type RecordedCase = 'think' | 'lossy' | 'refused' | 'slow' | 'empty' | 'error';

const FIXTURES = join(__dirname, '..', '..', '..', 'test', 'frontend', 'fixtures');

export function recordedAnswer(name: RecordedCase): { frames: DataFrame[]; error?: string } {
  const body = JSON.parse(readFileSync(join(FIXTURES, `ds-query-netprofile-${name}.json`), 'utf8'));
  const a = body.results.A as { frames?: DataFrameJSON[]; error?: string };
  return { frames: (a.frames ?? []).map((f) => dataFrameFromJSON(f)), error: a.error };
}

/** The recording's scenario figures (the think time, the proxy hop). */
export function recordedScenarios(): { thinkMs: number; proxyMs: number; bigBytes: number } {
  return JSON.parse(readFileSync(join(FIXTURES, 'ds-query-netprofile.recording.json'), 'utf8')).scenarios;
}
