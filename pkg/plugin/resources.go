package plugin

import (
	"encoding/json"
	"fmt"
	"net/http"
	"sort"
	"strconv"
	"time"

	"github.com/flowlens/flowlens/pkg/clickhouse"
	"github.com/flowlens/flowlens/pkg/converters"
	"github.com/flowlens/flowlens/pkg/query"
	"github.com/flowlens/flowlens/pkg/schema"
)

// Resource routes, under /api/datasources/uid/<uid>/resources/:
//   GET ping                   → {"ok":true}
//   GET schema                 → pkg/schema/schema.json
//   GET services?from=&to=     → {"services":[...]} (ms epoch; default the last hour)
//   GET values?kind=&from=&to=&service=a&service=b
//                              → {"values":[...]}: services, server_services, client_services,
//                                endpoints or protocols seen in the range, of the named servers
//                                (repeat service for several: multi-value variables), of the services
//                                with the tags of tags={"team":["shop"]} (JSON; endpoints, protocols: of such servers)
//   GET profile-values?field=process&from=&to=[&event=&service=&process=&host=&pid=&tid=]
//                              → {"values":[{"value":"4811","process":"node","weight":151}, ...]}: one column of
//                                profile_samples among the rows the other filters match, busiest first (at most 500)
//   GET tag-values             → {"tags":[...]} the tag names queries accept (pkg/query/tags.go)
//   GET tag-values?tag=&from=&to=[&tags=] → {"values":[...]} the values a tag took over the range (of the
//                                processes, or services, with the tags of tags={"team":["shop"]}: JSON)
//   GET tag-values?keys=1&from=&to= → {"keys":[...]} the concrete tag keys (ad-hoc filters): the process
//                                tags, the pod labels seen over the range, the business tag keys set
//   GET/POST/DELETE tags       → business tags (businesstags.go)

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func (d *Datasource) handlePing(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, map[string]bool{"ok": true})
}

func (d *Datasource) handleSchema(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write(schema.Raw())
}

func msParam(r *http.Request, name string, def time.Time) (time.Time, bool) {
	v := r.URL.Query().Get(name)
	if v == "" {
		return def, true
	}
	ms, err := strconv.ParseInt(v, 10, 64)
	if err != nil {
		return def, false
	}
	return time.UnixMilli(ms), true
}

// rangeParams reads from and to (ms since the epoch; default the last hour) and checks the span
// against the bound of queries of queryType.
func (d *Datasource) rangeParams(r *http.Request, queryType string) (query.Range, error) {
	now := time.Now()
	from, ok1 := msParam(r, "from", now.Add(-time.Hour))
	to, ok2 := msParam(r, "to", now)
	if !ok1 || !ok2 {
		return query.Range{}, fmt.Errorf("from and to must be integer milliseconds since the epoch")
	}
	rng := query.Range{From: from, To: to}
	return rng, query.CheckSpan(queryType, rng, d.settings.MaxSpan(queryType))
}

// resourceQuery runs a resource route's statement; a build error (the request's) is a 400, a
// ClickHouse error a 502, written to w, and then ok is false.
func (d *Datasource) resourceQuery(w http.ResponseWriter, r *http.Request, st *query.Statement, buildErr error) (*clickhouse.Result, bool) {
	if buildErr != nil {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": buildErr.Error()})
		return nil, false
	}
	res, err := d.client.Query(r.Context(), st.SQL)
	if err != nil {
		writeJSON(w, http.StatusBadGateway, map[string]string{"error": err.Error()})
		return nil, false
	}
	return res, true
}

func (d *Datasource) handleServices(w http.ResponseWriter, r *http.Request) {
	d.listValues(w, r, "services", func(rng query.Range) (*query.Statement, error) {
		return query.BuildServices(d.settings.Database, rng)
	})
}

func (d *Datasource) handleValues(w http.ResponseWriter, r *http.Request) {
	kind, services := r.URL.Query().Get("kind"), query.Values{}
	for _, s := range r.URL.Query()["service"] {
		if s != "" {
			services = append(services, s)
		}
	}
	tags, ok := tagsParam(w, r)
	if !ok {
		return
	}
	d.listValues(w, r, "values", func(rng query.Range) (*query.Statement, error) {
		return query.BuildValues(d.settings.Database, kind, rng, services, tags)
	})
}

// tagsParam reads the request's tag filters (tags={"team":["shop"]}, JSON; none when absent); a bad
// one is a 400, written to w, and then ok is false.
func tagsParam(w http.ResponseWriter, r *http.Request) (tags query.TagFilters, ok bool) {
	if t := r.URL.Query().Get("tags"); t != "" {
		if err := json.Unmarshal([]byte(t), &tags); err != nil {
			writeJSON(w, http.StatusBadRequest, map[string]string{"error": "tags: want a JSON object of tag -> values: " + err.Error()})
			return nil, false
		}
	}
	return tags, true
}

// listValues answers {key: [...]}: the distinct non-empty first column of build's statement
// over the request's from/to (ms epoch; default the last hour) and the always values, sorted.
func (d *Datasource) listValues(w http.ResponseWriter, r *http.Request, key string, build func(query.Range) (*query.Statement, error), always ...string) {
	if d.settingsErr != nil {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": d.settingsErr.Error()})
		return
	}
	rng, err := d.rangeParams(r, query.TypeMap)
	var st *query.Statement
	if err == nil {
		st, err = build(rng)
	}
	res, ok := d.resourceQuery(w, r, st, err)
	if !ok {
		return
	}
	set := map[string]bool{}
	for _, s := range always {
		set[s] = true
	}
	for _, row := range res.Data {
		if len(row) > 0 {
			if s := converters.String(row[0]); s != "" {
				set[s] = true
			}
		}
	}
	values := make([]string, 0, len(set))
	for s := range set {
		values = append(values, s)
	}
	sort.Strings(values)
	writeJSON(w, http.StatusOK, map[string][]string{key: values})
}

func (d *Datasource) handleProfileValues(w http.ResponseWriter, r *http.Request) {
	if d.settingsErr != nil {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": d.settingsErr.Error()})
		return
	}
	rng, err := d.rangeParams(r, query.TypeFlameGraph)
	if err != nil {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": err.Error()})
		return
	}
	// the filters as a flame graph query's, so they are read and checked the same way
	params := r.URL.Query()
	model := map[string]any{"event": params.Get("event")}
	for _, k := range []string{"service", "process", "host", "pid", "tid"} {
		if vals := params[k]; len(vals) > 0 {
			model[k] = vals
		}
	}
	raw, _ := json.Marshal(model)
	m, err := query.ParseFlame(raw)
	var st *query.Statement
	if err == nil {
		st, err = query.BuildProfileValues(d.settings.Database, params.Get("field"), m, rng)
	}
	res, ok := d.resourceQuery(w, r, st, err)
	if !ok {
		return
	}
	type value struct {
		Value   string `json:"value"`
		Process string `json:"process"`
		Weight  int64  `json:"weight"`
	}
	out := make([]value, 0, len(res.Data))
	for _, row := range res.Data {
		if len(row) < 3 {
			continue
		}
		weight, _ := converters.Int64(row[2])
		out = append(out, value{Value: converters.String(row[0]), Process: converters.String(row[1]), Weight: weight})
	}
	writeJSON(w, http.StatusOK, map[string]any{"values": out})
}

// handleTagValues lists the tag names, or with ?tag= the values that tag took over the range.
func (d *Datasource) handleTagValues(w http.ResponseWriter, r *http.Request) {
	tag := r.URL.Query().Get("tag")
	if r.URL.Query().Get("keys") != "" {
		d.listValues(w, r, "keys", func(rng query.Range) (*query.Statement, error) {
			return query.BuildTagKeys(d.settings.Database, rng)
		}, query.FixedTagNames()...)
		return
	}
	if tag == "" {
		writeJSON(w, http.StatusOK, map[string][]string{"tags": query.TagNames()})
		return
	}
	tags, ok := tagsParam(w, r)
	if !ok {
		return
	}
	d.listValues(w, r, "values", func(rng query.Range) (*query.Statement, error) {
		return query.BuildTagValues(d.settings.Database, tag, rng, tags)
	})
}
