import React from 'react';
import { act, render, screen } from '@testing-library/react';
import { of } from 'rxjs';
// Grafana renders app pages inside its router (@grafana/ui's links need one); the test gives them a memory router
import { MemoryRouter } from 'react-router-dom-v5-compat';
import type { AppRootProps } from '@grafana/data';
import { locationService } from '@grafana/runtime';
import App from './App';

/** A mock of Grafana's backend srv: every search finds nothing. */
const mockBackendSrv = {
  fetch: jest.fn(() => of({ data: { results: { A: { frames: [] } } }, status: 200, ok: true })),
};

jest.mock('@grafana/runtime', () => ({
  ...jest.requireActual('@grafana/runtime'),
  getBackendSrv: () => mockBackendSrv,
  PluginPage: ({ children }: { children: React.ReactNode }) => children,
}));

beforeAll(() => {
  // jsdom has no canvas; @grafana/ui's Combobox measures its options' text
  HTMLCanvasElement.prototype.getContext = (() => ({
    measureText: (t: string) => ({ width: 7 * t.length }),
  })) as unknown as HTMLCanvasElement['getContext'];
});

const props = {} as AppRootProps;

it('routes /a/<app>/traces to the Traces page and every other path to the overview, following navigation', async () => {
  act(() => locationService.push('/a/flowlens-observability-app/overview'));
  render(
    <MemoryRouter future={{ v7_startTransition: true, v7_relativeSplatPath: true }}>
      <App {...props} />
    </MemoryRouter>
  );
  expect(screen.getByTestId('flowlens-signals')).toBeInTheDocument();
  expect(screen.queryByTestId('traces-page')).not.toBeInTheDocument();
  act(() => locationService.push('/a/flowlens-observability-app/traces?service=backend'));
  expect(await screen.findByTestId('traces-page')).toBeInTheDocument();
  expect(await screen.findByTestId('traces-none')).toHaveTextContent('No trace matches');
  act(() => locationService.push('/a/flowlens-observability-app'));
  expect(screen.getByTestId('flowlens-signals')).toBeInTheDocument();
});
