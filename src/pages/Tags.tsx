import React, { useEffect, useState } from 'react';
import { css } from '@emotion/css';
import { dateTimeFormat, type GrafanaTheme2 } from '@grafana/data';
import { PluginPage, getBackendSrv, isFetchError } from '@grafana/runtime';
import {
  Alert,
  Button,
  Combobox,
  type ComboboxOption,
  Field,
  Input,
  LoadingPlaceholder,
  useStyles2,
} from '@grafana/ui';
import { lastValueFrom } from 'rxjs';
import { DATASOURCE_UID } from '../components/constants';

/** One business tag as the datasource's resource API lists it (pkg/plugin/businesstags.go). */
export interface BusinessTag {
  kind: 'service' | 'process' | 'ip_range';
  subject: string;
  key: string;
  value: string;
  /** ms since the epoch */
  updated_at?: number;
  updated_by?: string;
  updated_by_role?: string;
}

interface TagList {
  tags: BusinessTag[];
  writable: boolean;
  truncated: boolean;
}

const TAGS_URL = `/api/datasources/uid/${DATASOURCE_UID}/resources/tags`;

const KINDS: Array<ComboboxOption<BusinessTag['kind']>> = [
  { value: 'service', label: 'service', description: 'a service name, as the map and RED name it' },
  { value: 'process', label: 'process', description: 'a process name (comm)' },
  { value: 'ip_range', label: 'IP range', description: 'a CIDR range, e.g. 10.1.0.0/16' },
];

/** Keys the page proposes; any other lower-case key is accepted too. */
const KEYS = ['team', 'owner', 'tier', 'cost_centre'];

/** The backend's message of a refused call (its JSON `error`), else the HTTP status. */
function messageOf(e: unknown): string {
  if (isFetchError(e)) {
    const data = e.data as { error?: string; message?: string } | undefined;
    return data?.error ?? data?.message ?? `HTTP ${e.status}`;
  }
  return String((e as Error)?.message ?? e);
}

async function call<T>(method: 'GET' | 'POST' | 'DELETE', data?: unknown): Promise<T> {
  const res = await lastValueFrom(getBackendSrv().fetch<T>({ url: TAGS_URL, method, data, showErrorAlert: false }));
  return res.data;
}

/**
 * The Tags page: business tags (team, owner, tier, cost centre...) on services, processes and IP ranges, stored by
 * the datasource with who set them and when, joined by queries at read time (a tag set today applies to yesterday's
 * data). Changing them needs the Editor or Admin role and a tags writer in the datasource's settings.
 */
export function Tags() {
  const s = useStyles2(getStyles);
  const [list, setList] = useState<TagList>();
  const [error, setError] = useState<string>();
  const [draft, setDraft] = useState<BusinessTag>({ kind: 'service', subject: '', key: 'team', value: '' });
  const [busy, setBusy] = useState(false);

  // the list is read again after each change (generation)
  const [generation, setGeneration] = useState(0);
  useEffect(() => {
    let live = true;
    call<TagList>('GET').then(
      (l) => live && setList(l),
      (e) => live && setError(messageOf(e))
    );
    return () => {
      live = false;
    };
  }, [generation]);

  const change = async (method: 'POST' | 'DELETE', tag: BusinessTag) => {
    setBusy(true);
    setError(undefined);
    try {
      await call(method, method === 'DELETE' ? { kind: tag.kind, subject: tag.subject, key: tag.key } : tag);
      if (method === 'POST') {
        setDraft({ ...draft, subject: '', value: '' });
      }
      setGeneration((g) => g + 1);
    } catch (e) {
      setError(messageOf(e));
    } finally {
      setBusy(false);
    }
  };

  const canSave = draft.subject.trim() !== '' && draft.key.trim() !== '' && draft.value.trim() !== '';
  return (
    <PluginPage>
      <div data-testid="tags-page" className={s.page}>
        <p className={s.help}>
          Business tags name who owns what. A tag on a service, a process or an IP range applies to every signal of it,
          past ones included: queries join the tags when they read. Every change is kept with who made it and when.
        </p>
        {error && (
          <Alert severity="error" title="Business tags" data-testid="tags-error">
            {error}
          </Alert>
        )}
        {list && !list.writable && (
          <Alert severity="info" title="Read-only" data-testid="tags-read-only">
            This datasource has no tags writer: set one in its settings (Business tags writer) to change tags here.
          </Alert>
        )}
        <div className={s.form}>
          <Field label="On">
            <Combobox
              id="tags-kind"
              data-testid="tags-kind"
              options={KINDS}
              value={draft.kind}
              onChange={(o) => o && setDraft({ ...draft, kind: o.value })}
              width={16}
            />
          </Field>
          <Field label={draft.kind === 'ip_range' ? 'CIDR range' : `${draft.kind} name`}>
            <Input
              data-testid="tags-subject"
              value={draft.subject}
              placeholder={draft.kind === 'ip_range' ? '10.1.0.0/16' : 'checkout'}
              onChange={(e) => setDraft({ ...draft, subject: e.currentTarget.value })}
              width={28}
            />
          </Field>
          <Field label="Key">
            <Combobox
              id="tags-key"
              data-testid="tags-key"
              options={KEYS.map((k) => ({ value: k, label: k }))}
              value={draft.key}
              createCustomValue
              onChange={(o) => o && setDraft({ ...draft, key: o.value })}
              width={20}
            />
          </Field>
          <Field label="Value">
            <Input
              data-testid="tags-value"
              value={draft.value}
              placeholder="payments"
              onChange={(e) => setDraft({ ...draft, value: e.currentTarget.value })}
              width={28}
            />
          </Field>
          <Button
            data-testid="tags-save"
            icon="plus"
            disabled={!canSave || busy || !list?.writable}
            onClick={() => change('POST', { ...draft, subject: draft.subject.trim(), value: draft.value.trim() })}
          >
            Set tag
          </Button>
        </div>
        {!list && !error && <LoadingPlaceholder text="Loading tags" />}
        {list && list.tags.length === 0 && <p data-testid="tags-none">No business tag yet.</p>}
        {list && list.tags.length > 0 && (
          <table className={s.table} data-testid="tags-list">
            <thead>
              <tr>
                <th>On</th>
                <th>Name or range</th>
                <th>Key</th>
                <th>Value</th>
                <th>Set by</th>
                <th>When</th>
                <th />
              </tr>
            </thead>
            <tbody>
              {list.tags.map((t) => (
                <tr key={`${t.kind}/${t.subject}/${t.key}`} data-testid="tags-row">
                  <td>{t.kind}</td>
                  <td>{t.subject}</td>
                  <td>{t.key}</td>
                  <td>{t.value}</td>
                  <td>
                    {t.updated_by}
                    {t.updated_by_role ? ` (${t.updated_by_role})` : ''}
                  </td>
                  <td>{t.updated_at ? dateTimeFormat(t.updated_at, { format: 'YYYY-MM-DD HH:mm:ss' }) : ''}</td>
                  <td>
                    <Button
                      size="sm"
                      variant="secondary"
                      icon="trash-alt"
                      aria-label={`Remove ${t.key} of ${t.subject}`}
                      disabled={busy || !list.writable}
                      onClick={() => change('DELETE', t)}
                    />
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
      </div>
    </PluginPage>
  );
}

const getStyles = (theme: GrafanaTheme2) => ({
  page: css({ display: 'flex', flexDirection: 'column', gap: theme.spacing(2) }),
  help: css({ color: theme.colors.text.secondary, margin: 0 }),
  form: css({ display: 'flex', gap: theme.spacing(1), alignItems: 'flex-end', flexWrap: 'wrap' }),
  table: css({
    width: '100%',
    borderCollapse: 'collapse',
    'th, td': {
      textAlign: 'left',
      padding: theme.spacing(0.5, 1),
      borderBottom: `1px solid ${theme.colors.border.weak}`,
    },
    th: { color: theme.colors.text.secondary, fontWeight: theme.typography.fontWeightMedium },
  }),
});
