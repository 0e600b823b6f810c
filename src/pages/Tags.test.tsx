import React from 'react';
import { act, fireEvent, render, screen, within } from '@testing-library/react';
import { of, throwError } from 'rxjs';
import { Tags } from './Tags';

// Grafana's backend srv, answering the tags resource as the plugin binary does (pkg/plugin/businesstags.go).
const answers: Array<(o: { method: string; data?: unknown }) => unknown> = [];
const mockBackendSrv = {
  fetch: jest.fn((o: { url: string; method: string; data?: unknown }) => {
    const next = answers.shift();
    if (!next) {
      throw new Error(`unexpected ${o.method} ${o.url}`);
    }
    const r = next(o);
    return r instanceof Error ? throwError(() => r) : of({ data: r, status: 200, ok: true });
  }),
};

jest.mock('@grafana/runtime', () => ({
  ...jest.requireActual('@grafana/runtime'),
  getBackendSrv: () => mockBackendSrv,
  PluginPage: ({ children }: { children: React.ReactNode }) => children,
}));

beforeEach(() => {
  answers.length = 0;
  mockBackendSrv.fetch.mockClear();
});

const checkout = {
  kind: 'service',
  subject: 'checkout',
  key: 'team',
  value: 'payments',
  updated_at: Date.UTC(2026, 11, 2, 9, 0, 0),
  updated_by: 'alice',
  updated_by_role: 'Editor',
};

it('lists the tags with who set them, sets one and removes one through the tags resource', async () => {
  answers.push(() => ({ tags: [checkout], writable: true, truncated: false }));
  render(<Tags />);
  const row = await screen.findByTestId('tags-row');
  expect(
    within(row)
      .getAllByRole('cell')
      .map((c) => c.textContent)
  ).toEqual(['service', 'checkout', 'team', 'payments', 'alice (Editor)', '2026-12-02 09:00:00', '']);
  // set: the POST carries the tag as typed (trimmed), then the list is read again
  const sent: unknown[] = [];
  answers.push((o) => (sent.push(o), { tag: o.data }));
  answers.push(() => ({ tags: [checkout, { ...checkout, subject: 'backend', value: 'catalog' }], writable: true }));
  fireEvent.change(screen.getByTestId('tags-subject'), { target: { value: ' backend ' } });
  fireEvent.change(screen.getByTestId('tags-value'), { target: { value: 'catalog' } });
  await act(async () => fireEvent.click(screen.getByTestId('tags-save')));
  expect(sent).toEqual([
    expect.objectContaining({
      method: 'POST',
      url: '/api/datasources/uid/flowlens/resources/tags',
      data: { kind: 'service', subject: 'backend', key: 'team', value: 'catalog' },
    }),
  ]);
  expect(await screen.findAllByTestId('tags-row')).toHaveLength(2);
  // remove: a DELETE of (kind, subject, key)
  answers.push((o) => (sent.push(o), { removed: true }));
  answers.push(() => ({ tags: [checkout], writable: true }));
  await act(async () => fireEvent.click(screen.getByLabelText('Remove team of backend')));
  expect(sent[1]).toEqual(
    expect.objectContaining({ method: 'DELETE', data: { kind: 'service', subject: 'backend', key: 'team' } })
  );
  expect(await screen.findAllByTestId('tags-row')).toHaveLength(1);
});

it("shows the backend's reason when a change is refused, and says when tags are read-only", async () => {
  answers.push(() => ({ tags: [], writable: false }));
  render(<Tags />);
  expect(await screen.findByTestId('tags-read-only')).toBeInTheDocument();
  expect(screen.getByTestId('tags-none')).toBeInTheDocument();
  expect(screen.getByTestId('tags-save')).toBeDisabled();
});

it('shows the reason of a refused change (the role check)', async () => {
  answers.push(() => ({ tags: [], writable: true }));
  render(<Tags />);
  await screen.findByTestId('tags-none');
  answers.push(() =>
    Object.assign(new Error('403'), {
      status: 403,
      data: { error: 'changing business tags needs the Editor or Admin role: carol (role Viewer) has neither' },
    })
  );
  fireEvent.change(screen.getByTestId('tags-subject'), { target: { value: 'x' } });
  fireEvent.change(screen.getByTestId('tags-value'), { target: { value: 'y' } });
  await act(async () => fireEvent.click(screen.getByTestId('tags-save')));
  expect(screen.getByTestId('tags-error')).toHaveTextContent('needs the Editor or Admin role: carol (role Viewer)');
});
