package clickhouse

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"
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
	want := "readonly=2&max_execution_time=7&timeout_overflow_mode=throw&max_memory_usage=2000000000&max_rows_to_read=2000000000" +
		"&read_overflow_mode=throw&max_result_rows=2000000&result_overflow_mode=throw"
	if !regexp.MustCompile(`^query_id=flowlens-[0-9a-f]{32}&`).MatchString(gotQuery) || !strings.HasSuffix(gotQuery, "&"+want) || gotUser != "grafana" {
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
	idOnly := regexp.MustCompile(`^query_id=flowlens-[0-9a-f]{32}$`)
	if len(seen) != 4 || !strings.Contains(seen[1], "&max_execution_time=30&") || strings.Contains(seen[1], "readonly") ||
		!idOnly.MatchString(seen[2]) || !idOnly.MatchString(seen[3]) || c.Mode() != ModeNone {
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

// fakeServer answers queries with handle and records each KILL QUERY it receives.
type fakeServer struct {
	*httptest.Server
	mu     sync.Mutex
	killed []string
}

func newFakeServer(t *testing.T, handle func(w http.ResponseWriter, r *http.Request, body string)) *fakeServer {
	f := &fakeServer{}
	f.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		if m := regexp.MustCompile(`^KILL QUERY WHERE query_id = '([^']+)' ASYNC`).FindStringSubmatch(string(b)); m != nil {
			f.mu.Lock()
			f.killed = append(f.killed, m[1])
			f.mu.Unlock()
			return
		}
		handle(w, r, string(b))
	}))
	t.Cleanup(f.Close)
	return f
}

func (f *fakeServer) kills() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.killed...)
}

// A server that does not answer within the client's timeout: the client gives up with a clear
// error and kills the query by its id, in every mode (readonly=1 included).
func TestTimeoutKillsTheQueryOnTheServer(t *testing.T) {
	release := make(chan struct{})
	var mu sync.Mutex
	var ids []string
	srv := newFakeServer(t, func(w http.ResponseWriter, r *http.Request, _ string) {
		mu.Lock()
		ids = append(ids, r.URL.Query().Get("query_id"))
		mu.Unlock()
		if r.URL.Query().Get("max_execution_time") != "" { // a readonly=1 profile
			w.WriteHeader(500)
			io.WriteString(w, "Code: 164, e.displayText() = DB::Exception: Cannot override setting (max_execution_time) in readonly mode")
			return
		}
		select {
		case <-release:
		case <-r.Context().Done():
		}
	})
	defer close(release)
	c, _ := New(Config{URL: srv.URL, Timeout: 300 * time.Millisecond})
	started := time.Now()
	_, err := c.Query(context.Background(), "SELECT 1")
	took := time.Since(started)
	c.WaitKills()
	var le *LimitError
	if !errors.As(err, &le) || le.Setting != "queryTimeout" || !strings.Contains(err.Error(), "cancelled on the server") {
		t.Fatalf("err = %v", err)
	}
	if took > 2*time.Second || c.Mode() != ModeNone {
		t.Errorf("took %s, mode %d", took, c.Mode())
	}
	mu.Lock()
	last := ids[len(ids)-1]
	mu.Unlock()
	if k := srv.kills(); len(k) != 1 || k[0] != last {
		t.Errorf("killed %q, want the abandoned query %q", k, last)
	}
}

// A body over the cap is an error naming the setting, not a partial answer, and the query is killed.
func TestResponseSizeCap(t *testing.T) {
	srv := newFakeServer(t, func(w http.ResponseWriter, _ *http.Request, _ string) {
		io.WriteString(w, `{"meta":[{"name":"s","type":"String"}],"data":[["`+strings.Repeat("x", 2<<20)+`"]],"rows":1}`)
	})
	c, _ := New(Config{URL: srv.URL, MaxResponseBytes: 1 << 20})
	_, err := c.Query(context.Background(), "SELECT s")
	c.WaitKills()
	var le *LimitError
	if !errors.As(err, &le) || le.Setting != "maxResponseBytes" || !strings.Contains(err.Error(), "larger than 1048576 bytes") {
		t.Fatalf("err = %v", err)
	}
	if len(srv.kills()) != 1 {
		t.Errorf("kills %q", srv.kills())
	}
	c2, _ := New(Config{URL: srv.URL, MaxResponseBytes: 4 << 20})
	if res, err := c2.Query(context.Background(), "SELECT s"); err != nil || len(firstString(res)) != 2<<20 {
		t.Fatalf("under the cap: %v", err)
	}
}

func firstString(res *Result) string { s, _ := res.Data[0][0].(string); return s }

// The server's errors for each bound name the datasource setting; under readonly=1 they name the profile.
func TestLimitErrorsNameTheSetting(t *testing.T) {
	for code, setting := range map[int]string{159: "queryTimeout", 158: "maxRowsToRead", 396: "maxResultRows", 241: "maxMemoryUsage"} {
		srv := newFakeServer(t, func(w http.ResponseWriter, _ *http.Request, _ string) {
			w.WriteHeader(500)
			fmt.Fprintf(w, "Code: %d, e.displayText() = DB::Exception: Limit exceeded", code)
		})
		c, _ := New(Config{URL: srv.URL})
		_, err := c.Query(context.Background(), "SELECT 1")
		var le *LimitError
		var ce *Error
		if !errors.As(err, &le) || le.Setting != setting || !errors.As(err, &ce) || ce.Code != code || !strings.Contains(err.Error(), "narrow the time range") {
			t.Errorf("code %d: %v", code, err)
		}
		c.mode.Store(int32(ModeNone))
		_, err = c.Query(context.Background(), "SELECT 1")
		if !errors.As(err, &le) || !strings.Contains(le.Setting, "readonly=1") {
			t.Errorf("code %d, readonly=1: %v", code, err)
		}
	}
}
