package plugin

import (
	"encoding/json"
	"net/http"
	"sort"
	"strconv"
	"time"

	"github.com/flowlens/flowlens/pkg/converters"
	"github.com/flowlens/flowlens/pkg/query"
	"github.com/flowlens/flowlens/pkg/schema"
)

// Resource routes, under /api/datasources/uid/<uid>/resources/:
//   GET ping                   → {"ok":true}
//   GET schema                 → pkg/schema/schema.json
//   GET services?from=&to=     → {"services":[...]} (ms epoch; default the last hour)
//   GET tags                   → {"tags":[...]} the tag names queries accept (pkg/query/tags.go)
//   GET tags?tag=&from=&to=    → {"values":[...]} the values a tag took over the range

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

func (d *Datasource) handleServices(w http.ResponseWriter, r *http.Request) {
	d.listValues(w, r, "services", func(rng query.Range) (*query.Statement, error) { return query.BuildServices(d.settings.Database, rng) })
}

// handleTags lists the tag names, or with ?tag= the values that tag took over the range.
func (d *Datasource) handleTags(w http.ResponseWriter, r *http.Request) {
	tag := r.URL.Query().Get("tag")
	if tag == "" {
		writeJSON(w, http.StatusOK, map[string][]string{"tags": query.TagNames()})
		return
	}
	d.listValues(w, r, "values", func(rng query.Range) (*query.Statement, error) {
		return query.BuildTagValues(d.settings.Database, tag, rng)
	})
}

// listValues answers {key: [...]}: the distinct non-empty first column of build's statement over the
// request's from/to (ms epoch; default the last hour), sorted.
func (d *Datasource) listValues(w http.ResponseWriter, r *http.Request, key string, build func(query.Range) (*query.Statement, error)) {
	if d.settingsErr != nil {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": d.settingsErr.Error()})
		return
	}
	now := time.Now()
	from, ok1 := msParam(r, "from", now.Add(-time.Hour))
	to, ok2 := msParam(r, "to", now)
	if !ok1 || !ok2 {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": "from and to must be integer milliseconds since the epoch"})
		return
	}
	rng := query.Range{From: from, To: to}
	err := query.CheckSpan(query.TypeMap, rng, d.settings.MaxSpan(query.TypeMap))
	var st *query.Statement
	if err == nil {
		st, err = build(rng)
	}
	if err != nil {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": err.Error()})
		return
	}
	res, err := d.client.Query(r.Context(), st.SQL)
	if err != nil {
		writeJSON(w, http.StatusBadGateway, map[string]string{"error": err.Error()})
		return
	}
	set := map[string]bool{}
	for _, row := range res.Data {
		if len(row) > 0 {
			if s := converters.String(row[0]); s != "" {
				set[s] = true
			}
		}
	}
	services := make([]string, 0, len(set))
	for s := range set {
		services = append(services, s)
	}
	sort.Strings(services)
	writeJSON(w, http.StatusOK, map[string][]string{key: services})
}
