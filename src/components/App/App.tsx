import React, { useEffect, useState } from 'react';
import type { AppRootProps } from '@grafana/data';
import { locationService } from '@grafana/runtime';
import { PLUGIN_BASE_URL } from '../constants';
import { Overview } from '../../pages/Overview';
import { Traces } from '../../pages/Traces';

/** The app's pages under /a/<plugin id>/ (the `page` entries of plugin.json); anything else is the overview. */
export const ROUTES = {
  overview: `${PLUGIN_BASE_URL}/overview`,
  traces: `${PLUGIN_BASE_URL}/traces`,
};

/** The current path, following Grafana's router (locationService is the history Grafana's own routes use). */
function usePathname(): string {
  const [path, setPath] = useState(() => locationService.getLocation().pathname);
  useEffect(() => {
    const sub = locationService.getLocationObservable().subscribe((l) => setPath(l.pathname));
    return () => sub.unsubscribe();
  }, []);
  return path;
}

function App(_props: AppRootProps) {
  const path = usePathname().replace(/\/+$/, '');
  // Grafana may serve the app under a sub path (root_url): match the end of the path
  if (path.endsWith(ROUTES.traces)) {
    return <Traces />;
  }
  return <Overview />;
}

export default App;
