// Grafana's template service, for the harness's dashboards (test only: Grafana's lives in its core). The variables
// are a dashboard's `templating.list` with their current values, overridden by `var-<name>` URL parameters (several
// for a multi-value variable; `$__all` for All), as Grafana's URL carries them. replace() follows Grafana's documented
// syntax ($var, ${var}, ${var:format}, [[var]]) and format options
// (https://grafana.com/docs/grafana/latest/dashboards/variables/variable-syntax/): a multi-value variable without a
// format becomes a glob ({a,b}), as Grafana's default is.

const VARIABLE = /\$(\w+)|\[\[(\w+?)(?::(\w+))?\]\]|\${(\w+)(?:\.([^:^}]+))?(?::([^}]+))?}/g;

const regexEscape = (s) => s.replace(/[\\^$*+?.()|[\]{}/]/g, '\\$&');

/** Grafana's format options, by name: value is a string or an array of strings (a multi-value variable). */
const FORMATS = {
  raw: (v) => (Array.isArray(v) ? v.join(',') : v),
  csv: (v) => (Array.isArray(v) ? v.join(',') : v),
  pipe: (v) => (Array.isArray(v) ? v.join('|') : v),
  json: (v) => JSON.stringify(v),
  glob: (v) => (Array.isArray(v) && v.length > 1 ? `{${v.join(',')}}` : Array.isArray(v) ? v.join('') : v),
  regex: (v) =>
    Array.isArray(v) ? (v.length === 1 ? regexEscape(v[0]) : `(${v.map(regexEscape).join('|')})`) : regexEscape(v),
  doublequote: (v) =>
    []
      .concat(v)
      .map((x) => `"${x.replace(/"/g, '\\"')}"`)
      .join(','),
  singlequote: (v) =>
    []
      .concat(v)
      .map((x) => `'${x.replace(/'/g, "\\'")}'`)
      .join(','),
  sqlstring: (v) =>
    []
      .concat(v)
      .map((x) => `'${x.replace(/'/g, "''")}'`)
      .join(','),
  percentencode: (v) => encodeURIComponent(Array.isArray(v) ? `{${v.join(',')}}` : v),
};

/** The harness's template service over a dashboard's variables and the page URL. */
export function createTemplateSrv(dashboard, urlParams) {
  // `current` stays as Grafana keeps it ('$__all' for All: a datasource may look for it); `resolved` is what
  // replace() substitutes (All: the variable's allValue, else every option's value)
  const variables = (dashboard.templating?.list ?? []).map((v) => {
    const fromUrl = urlParams.getAll(`var-${v.name}`);
    if (v.type === 'adhoc') {
      // an ad-hoc filter in the URL as Grafana writes it, key|operator|value (=|, one of: key|=||a|b in this harness)
      const filters = fromUrl.map((f) => {
        const [key, operator, ...rest] = f.split('|');
        return operator === '=|'
          ? { key, operator, value: rest[1], values: rest.slice(1) }
          : { key, operator, value: rest.join('|') };
      });
      return { ...v, filters: fromUrl.length > 0 ? filters : (v.filters ?? []) };
    }
    const value =
      fromUrl.length > 0 ? (v.multi || fromUrl.length > 1 ? fromUrl : fromUrl[0]) : (v.current?.value ?? '');
    return { ...v, current: { value, text: value } };
  });
  const isAll = (value) => value === '$__all' || (Array.isArray(value) && value.includes('$__all'));
  const resolve = (v) => {
    if (v.type === 'adhoc') {
      return undefined; // no value: its filters go on the request (getAdhocFilters)
    }
    if (!isAll(v.current.value)) {
      return v.current.value;
    }
    const options = (v.options ?? []).map((o) => o.value).filter((x) => x !== '$__all');
    return v.allValue ?? (v.multi ? options : options.join(','));
  };
  const byName = new Map(variables.map((v) => [v.name, v]));
  let timeRange;

  const valueOf = (name, scopedVars) => {
    if (scopedVars && name in scopedVars) {
      return scopedVars[name].value;
    }
    const v = byName.get(name);
    return v && resolve(v);
  };

  return {
    getVariables: () => variables,
    /** The ad-hoc filters of the dashboard's ad-hoc variables for data source uid `uid` (Grafana's query runner puts them on request.filters). */
    getAdhocFilters: (uid) =>
      variables
        .filter((v) => v.type === 'adhoc' && [uid, '${datasource}', 'flowlens'].includes(v.datasource?.uid ?? uid))
        .flatMap((v) => v.filters),
    /** Sets a variable's options (a query variable's values, as Grafana's variable refresh does). */
    setOptions: (name, values) => {
      const v = byName.get(name);
      if (v) {
        v.options = values.map((x) => ({ text: x, value: x, selected: false }));
      }
    },
    containsTemplate: (target) =>
      typeof target === 'string' && [...target.matchAll(VARIABLE)].some((m) => byName.has(m[1] || m[2] || m[4])),
    updateTimeRange: (r) => {
      timeRange = r;
    },
    timeRange: () => timeRange,
    replace(target, scopedVars, format) {
      if (typeof target !== 'string') {
        return target;
      }
      return target.replace(VARIABLE, (match, plain, bracket, bracketFormat, braced, _fieldPath, bracedFormat) => {
        const name = plain || bracket || braced;
        const value = valueOf(name, scopedVars);
        if (value === undefined) {
          return match; // not a variable of this dashboard: left as written, as Grafana does
        }
        const fmt = bracedFormat || bracketFormat || format;
        if (typeof fmt === 'function') {
          return fmt(value, byName.get(name));
        }
        const formatter = FORMATS[fmt] ?? (fmt ? FORMATS.glob : Array.isArray(value) ? FORMATS.glob : (x) => x);
        return formatter(value);
      });
    },
  };
}
