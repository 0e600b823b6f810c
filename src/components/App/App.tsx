import React from 'react';
import { Route, Routes } from 'react-router-dom';
import type { AppRootProps } from '@grafana/data';
import { ROUTES } from '../constants';
import { Overview } from '../../pages/Overview';
import { Traces } from '../../pages/Traces';
import { Profiling } from '../../pages/Profiling';
import { Tags } from '../../pages/Tags';
import { Network } from '../../pages/Network';
import { Triage } from '../../pages/Triage';

/**
 * The app's routes, as create-plugin's app template declares them: Grafana renders the app root inside its own
 * router under /a/<plugin id>/*, so these paths are relative to it; any other path is the overview.
 */
function App(_props: AppRootProps) {
  return (
    <Routes>
      <Route path={ROUTES.traces} element={<Traces />} />
      <Route path={ROUTES.profiling} element={<Profiling />} />
      <Route path={ROUTES.tags} element={<Tags />} />
      <Route path={ROUTES.network} element={<Network />} />
      <Route path={ROUTES.triage} element={<Triage />} />
      <Route path="*" element={<Overview />} />
    </Routes>
  );
}

export default App;
