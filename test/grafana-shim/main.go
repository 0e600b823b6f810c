// Command grafana-shim is a TEST SHIM, not Grafana: it starts the FlowLens datasource binary
// the way Grafana does (go-plugin handshake, gRPC), and serves the few Grafana HTTP endpoints
// a browser page needs to call the datasource, plus static files:
//
//	POST /api/ds/query                              Grafana's query API (same request and response JSON)
//	GET  /api/datasources/uid/<uid>/health          "Save & test"
//	ANY  /api/datasources/uid/<uid>/resources/<p>   CallResource
//	GET  /api/datasources/uid/<uid>                 the datasource's settings
//	GET  /<anything else>                           files under -static
//
// Usage: grafana-shim -plugin dist/datasource/gpx_flowlens-clickhouse-datasource_linux_amd64
// [-listen 127.0.0.1:0] [-static dist] [-settings ds.json] [-uid flowlens]
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/flowlens/flowlens/pkg/localch"
	"github.com/flowlens/flowlens/pkg/pluginhost"
)

func main() {
	pluginPath := flag.String("plugin", "dist/datasource/gpx_flowlens-clickhouse-datasource_linux_amd64", "datasource plugin binary")
	listen := flag.String("listen", "127.0.0.1:0", "HTTP listen address (port 0 picks a free one)")
	static := flag.String("static", "", "directory served at / (e.g. dist)")
	settingsPath := flag.String("settings", "", `JSON file: the datasource jsonData, or {"jsonData":{...},"secureJsonData":{...}}`)
	uid := flag.String("uid", "flowlens", "datasource uid")
	flag.Parse()
	log.SetPrefix("grafana-shim: ")
	log.SetFlags(0)

	ds, err := loadDatasource(*settingsPath, *uid)
	if err != nil {
		log.Fatal(err)
	}
	host, err := pluginhost.Start(context.Background(), *pluginPath, pluginhost.Options{Stderr: os.Stderr})
	if err != nil {
		log.Fatal(err)
	}
	defer host.Close()

	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		host.Close()
		log.Fatal(err)
	}
	srv := &http.Server{Handler: newServer(host, ds, *static), ReadHeaderTimeout: 10 * time.Second}
	fmt.Printf("listening http://%s\n", ln.Addr())

	sig := make(chan os.Signal, 1)
	signal.Notify(sig, os.Interrupt, syscall.SIGTERM)
	go func() {
		<-sig
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
	}()
	if err := srv.Serve(ln); err != nil && err != http.ErrServerClosed {
		log.Print(err)
	}
}

// datasource is the one datasource the shim serves.
type datasource struct {
	UID            string            `json:"uid"`
	JSONData       json.RawMessage   `json:"jsonData"`
	SecureJSONData map[string]string `json:"secureJsonData"`
	updated        time.Time
}

func loadDatasource(path, uid string) (*datasource, error) {
	ds := &datasource{UID: uid, JSONData: json.RawMessage(`{}`), updated: time.Now()}
	if path == "" {
		return ds, nil
	}
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var probe map[string]json.RawMessage
	if err := json.Unmarshal(raw, &probe); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if _, wrapped := probe["jsonData"]; wrapped {
		if err := json.Unmarshal(raw, ds); err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		if ds.UID == "" {
			ds.UID = uid
		}
		return ds.withLocalCredentials(), nil
	}
	ds.JSONData = raw
	return ds.withLocalCredentials(), nil
}

// withLocalCredentials gives a datasource without a password the Grafana user of the local
// ClickHouse (scripts/clickhouse.sh env, or its credentials file): that server has no user
// without a password, and settings files (test fixtures) carry no secret.
func (ds *datasource) withLocalCredentials() *datasource {
	if ds.SecureJSONData["password"] != "" {
		return ds
	}
	local := localch.Local()
	var j map[string]any
	if json.Unmarshal(ds.JSONData, &j) != nil || j == nil {
		j = map[string]any{}
	}
	if u, _ := j["username"].(string); u == "" {
		j["username"] = local.Reader
		ds.JSONData, _ = json.Marshal(j)
	}
	if ds.SecureJSONData == nil {
		ds.SecureJSONData = map[string]string{}
	}
	ds.SecureJSONData["password"] = local.ReaderPassword
	return ds
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func readBody(r *http.Request) ([]byte, error) {
	return io.ReadAll(io.LimitReader(r.Body, 16<<20))
}
