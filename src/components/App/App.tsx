import React from 'react';
import type { AppRootProps } from '@grafana/data';
import { Overview } from '../../pages/Overview';

/** The app has one root page today; more pages (trace search, profiles) get routes here later. */
function App(_props: AppRootProps) {
  return <Overview />;
}

export default App;
