import React from 'react';
import { act, render, screen } from '@testing-library/react';
import { of } from 'rxjs';
import * as ReactRouter from 'react-router';
import type { AppRootProps } from '@grafana/data';
import { locationService } from '@grafana/runtime';
import App from './App';
// Grafana's router around the app root, as the browser harness mounts it
import { grafanaAppRoute } from '../../../test/frontend/harness/grafanaRouter';

/** A mock of Grafana's backend srv: every search finds nothing. */
const mockBackendSrv = {
  fetch: jest.fn(() => of({ data: { results: { A: { frames: [] } } }, status: 200, ok: true })),
};

jest.mock('@grafana/runtime', () => ({
  ...jest.requireActual('@grafana/runtime'),
  getBackendSrv: () => mockBackendSrv,
  PluginPage: ({ children }: { children: React.ReactNode }) => children,
}));

const props = {} as AppRootProps;

it('routes /a/<app>/traces to the Traces page and every other path to the overview, following navigation', async () => {
  act(() => locationService.push('/a/flowlens-observability-app/overview'));
  render(
    grafanaAppRoute({
      React,
      ReactRouter,
      locationService,
      pluginId: 'flowlens-observability-app',
      element: <App {...props} />,
    })
  );
  expect(screen.getByTestId('flowlens-signals')).toBeInTheDocument();
  expect(screen.queryByTestId('traces-page')).not.toBeInTheDocument();
  act(() => locationService.push('/a/flowlens-observability-app/traces?service=backend'));
  expect(await screen.findByTestId('traces-page')).toBeInTheDocument();
  expect(await screen.findByTestId('traces-none')).toHaveTextContent('No trace matches');
  act(() => locationService.push('/a/flowlens-observability-app'));
  expect(screen.getByTestId('flowlens-signals')).toBeInTheDocument();
});
