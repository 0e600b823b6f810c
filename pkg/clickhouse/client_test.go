package clickhouse

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
)

func TestQueryDecodesAndSendsSettings(t *testing.T) {
	var gotQuery, gotBody, gotUser string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		gotQuery, gotBody = r.URL.RawQuery, string(b)
		gotUser, _, _ = r.BasicAuth()
		io.WriteString(w, `{"meta":[{"name":"n","type":"UInt64"}],"data":[["18446744073709551615"]],"rows":1}`)
	}))
	defer srv.Close()
	c, err := New(Config{URL: srv.URL, Username: "grafana", MaxExecutionTime: 7})
	if err != nil {
		t.Fatal(err)
	}
	res, err := c.Query(context.Background(), "SELECT 1;")
	if err != nil {
		t.Fatal(err)
	}
	if gotQuery != "readonly=2&max_execution_time=7" || gotUser != "grafana" {
		t.Errorf("query string %q user %q", gotQuery, gotUser)
	}
	if gotBody != "SELECT 1\nFORMAT JSONCompact" {
		t.Errorf("body %q", gotBody)
	}
	if res.Meta[0].Type != "UInt64" || res.Data[0][0] != "18446744073709551615" {
		t.Errorf("decoded %+v", res)
	}
}

// A readonly=1 profile rejects every setting; the client steps down and remembers.
func TestQueryStepsDownForReadonlyProfiles(t *testing.T) {
	var mu sync.Mutex
	var seen []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		seen = append(seen, r.URL.RawQuery)
		mu.Unlock()
		if strings.Contains(r.URL.RawQuery, "readonly") {
			w.WriteHeader(500)
			io.WriteString(w, "Code: 164, e.displayText() = DB::Exception: Setting 'readonly' cannot be overrided in readonly mode")
			return
		}
		if strings.Contains(r.URL.RawQuery, "max_execution_time") {
			w.WriteHeader(500)
			io.WriteString(w, "Code: 164, e.displayText() = DB::Exception: Cannot modify 'max_execution_time' setting in readonly mode")
			return
		}
		io.WriteString(w, `{"meta":[],"data":[],"rows":0}`)
	}))
	defer srv.Close()
	c, _ := New(Config{URL: srv.URL})
	for i := 0; i < 2; i++ {
		if _, err := c.Query(context.Background(), "SELECT 1"); err != nil {
			t.Fatal(err)
		}
	}
	if len(seen) != 4 || seen[3] != "" {
		t.Errorf("requests: %q", seen)
	}
}

func TestErrorsCarryServerText(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(404)
		io.WriteString(w, "Code: 60, e.displayText() = DB::Exception: Table flowlens.nope doesn't exist.")
	}))
	defer srv.Close()
	c, _ := New(Config{URL: srv.URL})
	_, err := c.Query(context.Background(), "SELECT * FROM flowlens.nope")
	var chErr *Error
	if !errors.As(err, &chErr) || chErr.Code != 60 || !strings.Contains(err.Error(), "doesn't exist") {
		t.Fatalf("err = %v", err)
	}
	if _, err := New(Config{URL: "ftp://x"}); err == nil {
		t.Error("ftp URL accepted")
	}
	c2, _ := New(Config{URL: "http://127.0.0.1:1"})
	_, err = c2.Query(context.Background(), "SELECT 1")
	var ce *ConnectError
	if !errors.As(err, &ce) {
		t.Fatalf("want ConnectError, got %v", err)
	}
}
