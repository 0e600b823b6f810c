import React, { useEffect, useMemo, useState } from 'react';
import { css } from '@emotion/css';
import type { GrafanaTheme2 } from '@grafana/data';
import { locationService } from '@grafana/runtime';
import { Field, TimeRangeInput } from '@grafana/ui';
import type { FlowLensAnswer } from './flowlensQuery';
import { timeRangeOf, urlTime } from './traceSearch';

// What the app's pages share: their state in the URL, their queries' answers, and the width they draw to.

/** The URL's search parameters, following Grafana's location (the page's state lives there). */
export function useLocationSearch(): URLSearchParams {
  const [search, setSearch] = useState(() => locationService.getLocation().search);
  useEffect(() => {
    const sub = locationService.getLocationObservable().subscribe((l) => setSearch(l.search));
    return () => sub.unsubscribe();
  }, []);
  return useMemo(() => new URLSearchParams(search), [search]);
}

export type Loaded = { state: 'loading' } | ({ state: 'done' } & FlowLensAnswer);

/** Runs `run` whenever `key` changes; the answer of a superseded run is dropped. */
export function useAnswer(key: string | undefined, run: () => Promise<FlowLensAnswer>): Loaded | undefined {
  const [loaded, setLoaded] = useState<{ key: string; value: Loaded }>();
  useEffect(() => {
    if (key === undefined) {
      return;
    }
    let live = true;
    run().then(
      (a) => live && setLoaded({ key, value: { state: 'done', ...a } }),
      (e) => live && setLoaded({ key, value: { state: 'done', frames: [], error: String(e?.message ?? e) } })
    );
    return () => {
      live = false;
    };
    // eslint-disable-next-line react-hooks/exhaustive-deps -- `key` names everything `run` reads
  }, [key]);
  if (key === undefined) {
    return undefined;
  }
  return loaded?.key === key ? loaded.value : { state: 'loading' };
}

/** Renders its child with the width it has (the trace view draws to a width in px, as a panel does). */
export function Sized({ children }: { children: (width: number) => React.ReactNode }) {
  const [el, setEl] = useState<HTMLDivElement | null>(null);
  const [width, setWidth] = useState(0);
  useEffect(() => {
    if (!el) {
      return;
    }
    // the observer reports the first size right after observe(); jsdom has none (the fallback width)
    if (typeof ResizeObserver === 'undefined') {
      return;
    }
    const ro = new ResizeObserver(() => setWidth(el.clientWidth));
    ro.observe(el);
    return () => ro.disconnect();
  }, [el]);
  return (
    <div ref={setEl} style={{ width: '100%' }}>
      {children(width || 1100)}
    </div>
  );
}

/** The look the app's pages share: a column of sections, a filter row, result tables with clickable rows. */
export const getPageStyles = (theme: GrafanaTheme2) => ({
  page: css({ display: 'flex', flexDirection: 'column', gap: theme.spacing(2) }),
  form: css({ display: 'flex', flexWrap: 'wrap', alignItems: 'flex-end', gap: theme.spacing(1) }),
  field: css({ marginBottom: 0, marginRight: theme.spacing(2), flex: '0 0 auto' }),
  results: css({ maxHeight: 360, overflowY: 'auto' }),
  notice: css({ color: theme.colors.text.secondary, padding: theme.spacing(0.5, 0) }),
  table: css({
    width: '100%',
    borderCollapse: 'collapse',
    fontSize: theme.typography.bodySmall.fontSize,
    'th, td': {
      textAlign: 'left',
      padding: theme.spacing(0.5, 1),
      borderBottom: `1px solid ${theme.colors.border.weak}`,
    },
    th: {
      color: theme.colors.text.secondary,
      fontWeight: theme.typography.fontWeightMedium,
      position: 'sticky',
      top: 0,
      background: theme.colors.background.primary,
    },
  }),
  row: css({ cursor: 'pointer', '&:hover': { background: theme.colors.action.hover } }),
  chosen: css({ background: theme.colors.action.selected }),
});

/** A page form's time range: the draft's from and to (URL form); a range it cannot read shows `fallback`. */
export function RangeField({
  from,
  to,
  fallback,
  className,
  onChange,
}: {
  from: string;
  to: string;
  fallback: { from: string; to: string };
  className?: string;
  onChange: (from: string, to: string) => void;
}) {
  let range;
  try {
    range = timeRangeOf({ from, to });
  } catch {
    range = timeRangeOf(fallback);
  }
  return (
    <Field label="Time range" className={className}>
      <TimeRangeInput value={range} onChange={(r) => onChange(urlTime(r.raw.from), urlTime(r.raw.to))} hideTimeZone />
    </Field>
  );
}
