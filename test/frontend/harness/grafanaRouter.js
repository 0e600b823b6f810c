// Grafana's part around an app's root page (test only, shared by the browser harness and the jest tests): Grafana
// renders app pages inside its own react-router (v6: the `react-router` it shares with plugins) whose history is
// locationService's, under the route /a/<plugin id>/*. The app's <Routes> are relative to that route.

/**
 * The app root `element` as Grafana mounts it: a react-router Router following `locationService` (its location
 * observable; navigation through its history), and the app's route.
 */
export function grafanaAppRoute({ React, ReactRouter, locationService, pluginId, element }) {
  function GrafanaRouter({ children }) {
    const [location, setLocation] = React.useState(() => locationService.getLocation());
    React.useEffect(() => {
      const sub = locationService.getLocationObservable().subscribe(setLocation);
      return () => sub.unsubscribe();
    }, []);
    return React.createElement(ReactRouter.Router, { location, navigator: locationService.getHistory() }, children);
  }
  return React.createElement(
    GrafanaRouter,
    null,
    React.createElement(
      ReactRouter.Routes,
      null,
      React.createElement(ReactRouter.Route, { path: `/a/${pluginId}/*`, element })
    )
  );
}
