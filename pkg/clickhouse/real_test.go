package clickhouse

// Against a private real ClickHouse (chtest: the installed 18.16) with a writable, a readonly=2
// and a readonly=1 user: every bound the client sends is enforced by the server, and a query that
// would run forever is stopped for all three, readonly=1 included (which refuses every setting).

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/flowlens/flowlens/pkg/clickhouse/chtest"
)

const forever = "SELECT count() FROM system.numbers WHERE sipHash64(number) = 1"

func TestRealServerStopsAQueryThatWouldRunForever(t *testing.T) {
	srv := chtest.Start(t)
	for _, tc := range []struct {
		user string
		mode Mode
		// who stops it: the server at max_execution_time (1 s), or the client at its timeout (2 s) and a KILL
		within time.Duration
	}{
		{chtest.Writer, ModeFull, 1900 * time.Millisecond},
		{chtest.Readonly2, ModeFull, 1900 * time.Millisecond}, // 18.16 lets a readonly=2 profile send readonly=2
		{chtest.Readonly1, ModeNone, 3 * time.Second},
	} {
		t.Run(tc.user, func(t *testing.T) {
			c, _ := New(Config{URL: srv.URL, Username: tc.user, Password: chtest.Password(tc.user), Timeout: 2 * time.Second, MaxExecutionTime: 1})
			started := time.Now()
			_, err := c.Query(context.Background(), forever)
			took := time.Since(started)
			var le *LimitError
			if !errors.As(err, &le) || le.Setting != "queryTimeout" && !strings.Contains(le.Setting, "readonly=1") {
				t.Fatalf("err = %v", err)
			}
			if c.Mode() != tc.mode || took > tc.within {
				t.Errorf("mode %d (want %d), stopped after %s (want under %s)", c.Mode(), tc.mode, took, tc.within)
			}
			c.WaitKills()
			// nothing of it keeps running on the server
			var running string
			for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
				running = srv.MustExec(t, chtest.Writer, "SELECT count() FROM system.processes WHERE user = '"+tc.user+"' AND query LIKE '%sipHash64(number) = 1%' AND query NOT LIKE '%system.processes%'")
				if running == "0" {
					break
				}
			}
			if running != "0" {
				t.Errorf("%s queries of %s still running on the server", running, tc.user)
			}
		})
	}
}

// Each bound, enforced by the real server (readonly=2 user) and named in the error; a readonly=1
// user cannot be sent them, and then only the client's own response cap applies.
func TestRealServerEnforcesEachBound(t *testing.T) {
	srv := chtest.Start(t)
	cases := []struct {
		name, sql, setting string
		cfg                Config
	}{
		{"rows to read", "SELECT count() FROM (SELECT number FROM system.numbers LIMIT 100000)", "maxRowsToRead", Config{MaxRowsToRead: 1000}},
		{"result rows", "SELECT number FROM system.numbers LIMIT 11", "maxResultRows", Config{MaxResultRows: 10}},
		{"memory", "SELECT number % 3000000 AS k, count() FROM (SELECT number FROM system.numbers LIMIT 3000000) GROUP BY k", "maxMemoryUsage", Config{MaxMemoryUsage: 1 << 20}},
		{"response size", "SELECT number FROM system.numbers LIMIT 10000", "maxResponseBytes", Config{MaxResponseBytes: 1000}},
	}
	for _, tc := range cases {
		for _, user := range []string{chtest.Readonly2, chtest.Readonly1} {
			t.Run(fmt.Sprintf("%s/%s", tc.name, user), func(t *testing.T) {
				cfg := tc.cfg
				cfg.URL, cfg.Username, cfg.Password = srv.URL, user, chtest.Password(user)
				c, _ := New(cfg)
				_, err := c.Query(context.Background(), tc.sql)
				c.WaitKills()
				var le *LimitError
				stopped := errors.As(err, &le) && le.Setting == tc.setting && strings.Contains(err.Error(), "narrow the time range")
				// readonly=1: the server got no bound; the response cap is the client's and still applies
				want := user == chtest.Readonly2 || tc.setting == "maxResponseBytes"
				if stopped != want || (!want && err != nil) {
					t.Errorf("stopped=%v (want %v): err = %v", stopped, want, err)
				}
			})
		}
	}
}

// Given a writable user, the datasource still cannot write: readonly=2 goes with every query.
func TestRealServerWritableUserCannotWrite(t *testing.T) {
	srv := chtest.Start(t)
	c, _ := New(Config{URL: srv.URL, Username: chtest.Writer, Password: chtest.Password(chtest.Writer)})
	_, err := c.Query(context.Background(), "CREATE DATABASE flowlens_written")
	var ce *Error
	if !errors.As(err, &ce) || ce.Code != 164 || c.Mode() != ModeFull {
		t.Fatalf("err = %v, mode %d", err, c.Mode())
	}
	if n := srv.MustExec(t, chtest.Writer, "SELECT count() FROM system.databases WHERE name = 'flowlens_written'"); n != "0" {
		t.Errorf("the database was created")
	}
}
