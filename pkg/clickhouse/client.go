// Package clickhouse is a small ClickHouse HTTP client: it POSTs one SELECT, asks for
// FORMAT JSONCompact and returns the column metadata and rows. It only uses what both
// ClickHouse 18.16 and modern servers accept over HTTP.
package clickhouse

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"sync/atomic"
	"time"
)

// Config says where and as whom to connect.
type Config struct {
	URL      string // e.g. http://127.0.0.1:18123
	Username string
	Password string
	// Timeout bounds the whole HTTP request; MaxExecutionTime (seconds) is sent to the server
	// so it stops work the client has given up on.
	Timeout          time.Duration
	MaxExecutionTime int
}

// Client runs queries. It is safe for concurrent use.
type Client struct {
	cfg  Config
	base *url.URL
	http *http.Client
	// settingsMode remembers what the user's profile lets us send (see settingsFor).
	settingsMode atomic.Int32
}

const (
	modeFull       int32 = iota // send readonly=2 and max_execution_time
	modeNoReadonly              // the profile is already readonly=2: send max_execution_time only
	modeNone                    // the profile is readonly=1: no settings may be changed
)

// Column is one entry of the result's "meta".
type Column struct {
	Name string `json:"name"`
	Type string `json:"type"`
}

// Result is a decoded JSONCompact response. Values are json.Number, string, bool, nil,
// []any or map[string]any (ClickHouse quotes 64-bit integers as strings).
type Result struct {
	Meta []Column `json:"meta"`
	Data [][]any  `json:"data"`
	Rows int      `json:"rows"`
}

// Error is an error reported by the ClickHouse server.
type Error struct {
	Status int
	Code   int    // ClickHouse error code, 0 if not found in the text
	Text   string // the server's message
}

func (e *Error) Error() string {
	return fmt.Sprintf("ClickHouse error (HTTP %d): %s", e.Status, e.Text)
}

// ConnectError means the server could not be reached at all.
type ConnectError struct {
	URL string
	Err error
}

func (e *ConnectError) Error() string {
	return fmt.Sprintf("cannot reach ClickHouse at %s: %v", e.URL, e.Err)
}

func (e *ConnectError) Unwrap() error { return e.Err }

// New checks the config and returns a client.
func New(cfg Config) (*Client, error) {
	u, err := url.Parse(cfg.URL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("ClickHouse URL %q is not an http(s) URL like http://127.0.0.1:8123", cfg.URL)
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 30 * time.Second
	}
	if cfg.MaxExecutionTime <= 0 {
		cfg.MaxExecutionTime = int(cfg.Timeout / time.Second)
	}
	return &Client{cfg: cfg, base: u, http: &http.Client{Timeout: cfg.Timeout}}, nil
}

var codeRe = regexp.MustCompile(`Code: (\d+)`)

// Query runs one SELECT and decodes it. sql must not carry a FORMAT clause.
func (c *Client) Query(ctx context.Context, sql string) (*Result, error) {
	for {
		mode := c.settingsMode.Load()
		res, err := c.do(ctx, sql, mode)
		var chErr *Error
		// Code 164 (READONLY): the user's profile forbids a setting we sent; step down once
		// and remember, so readonly=1 and readonly=2 users both work.
		if errors.As(err, &chErr) && chErr.Code == 164 && mode < modeNone &&
			(strings.Contains(chErr.Text, "Setting") || strings.Contains(chErr.Text, "setting")) {
			c.settingsMode.CompareAndSwap(mode, mode+1)
			continue
		}
		return res, err
	}
}

func (c *Client) do(ctx context.Context, sql string, mode int32) (*Result, error) {
	u := *c.base
	q := u.Query()
	// readonly=2 protects writable users; it must be sent before other settings.
	var params []string
	if mode == modeFull {
		params = append(params, "readonly=2")
	}
	if mode <= modeNoReadonly {
		params = append(params, fmt.Sprintf("max_execution_time=%d", c.cfg.MaxExecutionTime))
	}
	if enc := q.Encode(); enc != "" {
		params = append([]string{enc}, params...)
	}
	u.RawQuery = strings.Join(params, "&")
	body := strings.TrimRight(strings.TrimSpace(sql), ";") + "\nFORMAT JSONCompact"
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u.String(), strings.NewReader(body))
	if err != nil {
		return nil, err
	}
	req.SetBasicAuth(c.cfg.Username, c.cfg.Password)
	req.Header.Set("Content-Type", "text/plain; charset=utf-8")
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, &ConnectError{URL: c.cfg.URL, Err: err}
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, &ConnectError{URL: c.cfg.URL, Err: err}
	}
	if resp.StatusCode != http.StatusOK {
		return nil, parseError(resp.StatusCode, raw)
	}
	// A failure after the header was sent appears as an exception appended to the body.
	if bytes.Contains(raw, []byte("DB::Exception")) && !json.Valid(raw) {
		return nil, parseError(resp.StatusCode, raw)
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var res Result
	if err := dec.Decode(&res); err != nil {
		return nil, fmt.Errorf("cannot decode ClickHouse response (is %s a ClickHouse HTTP port?): %w", c.cfg.URL, err)
	}
	return &res, nil
}

func parseError(status int, raw []byte) *Error {
	text := strings.TrimSpace(string(raw))
	if len(text) > 2000 {
		text = text[:2000] + "…"
	}
	e := &Error{Status: status, Text: text}
	if m := codeRe.FindStringSubmatch(text); m != nil {
		fmt.Sscanf(m[1], "%d", &e.Code)
	}
	return e
}

// IsAuthError reports whether err says the user or password was rejected.
func IsAuthError(err error) bool {
	var e *Error
	if !errors.As(err, &e) {
		return false
	}
	return e.Code == 192 || e.Code == 193 || e.Code == 516 || e.Status == http.StatusUnauthorized
}
