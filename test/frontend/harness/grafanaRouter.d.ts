import type * as ReactNS from 'react';
import type * as ReactRouterNS from 'react-router';
import type { locationService as LocationService } from '@grafana/runtime';

/** See grafanaRouter.js: the app root as Grafana mounts it, inside a router following locationService. */
export function grafanaAppRoute(o: {
  React: typeof ReactNS;
  ReactRouter: typeof ReactRouterNS;
  locationService: typeof LocationService;
  pluginId: string;
  element: ReactNS.ReactElement;
}): ReactNS.ReactElement;
