package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"

	"github.com/grafana/grafana-plugin-sdk-go/backend"

	"github.com/flowlens/flowlens/pkg/plugin"
	"github.com/flowlens/flowlens/pkg/pluginhost"
)

type server struct {
	host *pluginhost.Host
	ds   *datasource
	mux  *http.ServeMux
}

func newServer(host *pluginhost.Host, ds *datasource, static string) http.Handler {
	s := &server{host: host, ds: ds, mux: http.NewServeMux()}
	s.mux.HandleFunc("POST /api/ds/query", s.query)
	s.mux.HandleFunc("GET /api/datasources/uid/{uid}/health", s.health)
	s.mux.HandleFunc("/api/datasources/uid/{uid}/resources/{path...}", s.resource)
	s.mux.HandleFunc("GET /api/datasources/uid/{uid}", s.settings)
	s.mux.HandleFunc("/api/", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusNotFound, map[string]string{"message": "not served by the FlowLens grafana-shim: " + r.URL.Path})
	})
	if static != "" {
		s.mux.Handle("/", http.FileServer(http.Dir(static)))
	}
	return s.mux
}

func (s *server) pluginContext() backend.PluginContext {
	return pluginhost.DatasourceContext(plugin.PluginID, s.ds.UID, s.ds.JSONData, s.ds.SecureJSONData, s.ds.updated)
}

func (s *server) checkUID(w http.ResponseWriter, r *http.Request) bool {
	if uid := r.PathValue("uid"); uid != s.ds.UID {
		writeJSON(w, http.StatusNotFound, map[string]string{"message": fmt.Sprintf("Data source not found (the shim serves uid %q only)", s.ds.UID)})
		return false
	}
	return true
}

// query implements POST /api/ds/query: the request is Grafana's MetricRequest, the response
// the marshalled backend.QueryDataResponse ({"results":{"A":{"status":200,"frames":[...]}}}).
func (s *server) query(w http.ResponseWriter, r *http.Request) {
	body, err := readBody(r)
	if err != nil {
		writeJSON(w, http.StatusBadRequest, map[string]string{"message": err.Error()})
		return
	}
	req, err := parseMetricRequest(body, nowFunc())
	if err != nil {
		writeJSON(w, http.StatusBadRequest, map[string]string{"message": err.Error()})
		return
	}
	for _, q := range req.queries {
		if q.uid != "" && q.uid != s.ds.UID && q.uid != "${DS}" {
			writeJSON(w, http.StatusBadRequest, map[string]string{"message": fmt.Sprintf("query %s: data source %q not found (the shim serves uid %q)", q.RefID, q.uid, s.ds.UID)})
			return
		}
	}
	dq := make([]backend.DataQuery, len(req.queries))
	for i, q := range req.queries {
		dq[i] = q.DataQuery
	}
	resp, err := s.host.QueryData(r.Context(), &backend.QueryDataRequest{
		PluginContext: s.pluginContext(),
		Headers:       map[string]string{},
		Queries:       dq,
	})
	if err != nil {
		writeJSON(w, http.StatusInternalServerError, map[string]string{"message": "plugin QueryData failed: " + err.Error()})
		return
	}
	// Grafana answers 400 when any query failed (the body still has every result).
	status := http.StatusOK
	for _, res := range resp.Responses {
		if res.Error != nil {
			status = http.StatusBadRequest
		}
	}
	b, err := json.Marshal(resp)
	if err != nil {
		writeJSON(w, http.StatusInternalServerError, map[string]string{"message": err.Error()})
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(b)
}

// health implements GET /api/datasources/uid/<uid>/health like Grafana: 200 with status OK,
// else 400 with status ERROR.
func (s *server) health(w http.ResponseWriter, r *http.Request) {
	if !s.checkUID(w, r) {
		return
	}
	res, err := s.host.CheckHealth(r.Context(), s.pluginContext())
	if err != nil {
		writeJSON(w, http.StatusInternalServerError, map[string]string{"message": "plugin CheckHealth failed: " + err.Error()})
		return
	}
	out := map[string]any{"status": res.Status.String(), "message": res.Message}
	if len(res.JSONDetails) > 0 {
		out["details"] = json.RawMessage(res.JSONDetails)
	}
	status := http.StatusOK
	if res.Status != backend.HealthStatusOk {
		status = http.StatusBadRequest
	}
	writeJSON(w, status, out)
}

func (s *server) resource(w http.ResponseWriter, r *http.Request) {
	if !s.checkUID(w, r) {
		return
	}
	body, err := readBody(r)
	if err != nil {
		writeJSON(w, http.StatusBadRequest, map[string]string{"message": err.Error()})
		return
	}
	path := r.PathValue("path")
	url := "/" + path
	if r.URL.RawQuery != "" {
		url += "?" + r.URL.RawQuery
	}
	res, err := s.host.CallResource(r.Context(), &backend.CallResourceRequest{
		PluginContext: s.pluginContext(),
		Path:          path,
		Method:        r.Method,
		URL:           url,
		Headers:       map[string][]string(r.Header.Clone()),
		Body:          body,
	})
	if err != nil {
		writeJSON(w, http.StatusInternalServerError, map[string]string{"message": "plugin CallResource failed: " + err.Error()})
		return
	}
	for k, vs := range res.Headers {
		if strings.EqualFold(k, "Content-Length") {
			continue
		}
		for _, v := range vs {
			w.Header().Add(k, v)
		}
	}
	w.WriteHeader(res.Status)
	_, _ = w.Write(res.Body)
}

func (s *server) settings(w http.ResponseWriter, r *http.Request) {
	if !s.checkUID(w, r) {
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{
		"id": 1, "uid": s.ds.UID, "name": "FlowLens", "type": plugin.PluginID, "access": "proxy",
		"jsonData": s.ds.JSONData, "readOnly": true,
	})
}
