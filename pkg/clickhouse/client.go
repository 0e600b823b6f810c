// Package clickhouse is a small ClickHouse HTTP client: it POSTs one SELECT, asks for
// FORMAT JSONCompact and returns the column metadata and rows. It only uses what both
// ClickHouse 18.16 and modern servers accept over HTTP.
package clickhouse

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Config says where and as whom to connect, and the bounds every query carries.
type Config struct {
	URL      string // e.g. http://127.0.0.1:18123
	Username string
	Password string
	// Timeout bounds the whole HTTP request (headers and body): it applies whatever the user's
	// profile allows. A request abandoned by it (or by the caller's context) is killed on the
	// server by its query_id, since ClickHouse 18.16 keeps running a query whose HTTP client left.
	Timeout time.Duration
	// Sent as settings with every query when the user's profile allows it (see Mode); 0 = default.
	MaxExecutionTime int   // seconds (default: Timeout)
	MaxMemoryUsage   int64 // bytes
	MaxRowsToRead    int64
	MaxResultRows    int64
	// MaxResponseBytes caps the response body the client reads, whatever the profile.
	MaxResponseBytes int64
}

// Defaults of the per-query bounds.
const (
	DefaultTimeout          = 30 * time.Second
	DefaultMaxMemoryUsage   = 2_000_000_000
	DefaultMaxRowsToRead    = 2_000_000_000
	DefaultMaxResultRows    = 2_000_000
	DefaultMaxResponseBytes = 64 << 20
)

// Client runs queries. It is safe for concurrent use.
type Client struct {
	cfg  Config
	base *url.URL
	http *http.Client
	// mode remembers what the user's profile lets us send (see Mode).
	mode    atomic.Int32
	killing sync.WaitGroup
}

// Mode is what the user's profile lets the client send with each query.
type Mode int32

const (
	// ModeFull: readonly=2 and the limits (a writable user: readonly=2 keeps it from writing).
	ModeFull Mode = iota
	// ModeLimits: the limits only (the profile already says readonly=2).
	ModeLimits
	// ModeNone: the profile says readonly=1, which refuses every setting; only the client's own
	// bounds apply (timeout with a server-side kill, response size cap, the SQL's LIMIT).
	ModeNone
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

// LimitError says which bound stopped a query and how to stay within it.
type LimitError struct {
	What    string // e.g. "the query read more than 2000000000 rows"
	Setting string // the datasource setting that sets the bound
	Cause   error  // the server's error, if it was the server that stopped the query
}

func (e *LimitError) Error() string {
	msg := fmt.Sprintf("%s (datasource setting %s): narrow the time range or add filters", e.What, e.Setting)
	if e.Cause != nil {
		msg += " [" + e.Cause.Error() + "]"
	}
	return msg
}

func (e *LimitError) Unwrap() error { return e.Cause }

// New checks the config and returns a client.
func New(cfg Config) (*Client, error) {
	u, err := url.Parse(cfg.URL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("ClickHouse URL %q is not an http(s) URL like http://127.0.0.1:8123", cfg.URL)
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = DefaultTimeout
	}
	if cfg.MaxExecutionTime <= 0 {
		cfg.MaxExecutionTime = max(int(cfg.Timeout/time.Second), 1)
	}
	def := func(v *int64, d int64) {
		if *v <= 0 {
			*v = d
		}
	}
	def(&cfg.MaxMemoryUsage, DefaultMaxMemoryUsage)
	def(&cfg.MaxRowsToRead, DefaultMaxRowsToRead)
	def(&cfg.MaxResultRows, DefaultMaxResultRows)
	def(&cfg.MaxResponseBytes, DefaultMaxResponseBytes)
	return &Client{cfg: cfg, base: u, http: &http.Client{Timeout: cfg.Timeout}}, nil
}

// Config returns the client's configuration with its defaults filled in.
func (c *Client) Config() Config { return c.cfg }

// Mode is what the client sends with each query now (it steps down once per refusal).
func (c *Client) Mode() Mode { return Mode(c.mode.Load()) }

// Settings are the URL parameters sent with each query in mode m, in order (readonly first:
// ClickHouse applies it before the others). The overflow modes are sent as throw so a bound that
// is hit is an error, never a silently truncated answer (a profile may say break).
func (c *Client) Settings(m Mode) []string {
	var out []string
	if m == ModeFull {
		out = append(out, "readonly=2")
	}
	if m <= ModeLimits {
		out = append(out,
			fmt.Sprintf("max_execution_time=%d", c.cfg.MaxExecutionTime), "timeout_overflow_mode=throw",
			fmt.Sprintf("max_memory_usage=%d", c.cfg.MaxMemoryUsage),
			fmt.Sprintf("max_rows_to_read=%d", c.cfg.MaxRowsToRead), "read_overflow_mode=throw",
			fmt.Sprintf("max_result_rows=%d", c.cfg.MaxResultRows), "result_overflow_mode=throw")
	}
	return out
}

var codeRe = regexp.MustCompile(`Code: (\d+)`)

// Query runs one SELECT and decodes it. sql must not carry a FORMAT clause.
func (c *Client) Query(ctx context.Context, sql string) (*Result, error) {
	for {
		mode := Mode(c.mode.Load())
		res, err := c.do(ctx, sql, mode)
		var chErr *Error
		// Code 164 (READONLY): the user's profile forbids a setting we sent; step down once
		// and remember, so readonly=1 and readonly=2 users both work.
		if errors.As(err, &chErr) && chErr.Code == 164 && mode < ModeNone &&
			(strings.Contains(chErr.Text, "Setting") || strings.Contains(chErr.Text, "setting")) {
			c.mode.CompareAndSwap(int32(mode), int32(mode+1))
			continue
		}
		return res, err
	}
}

// Write runs one statement that changes data (an INSERT built with every value quoted), for a
// client whose user may write: the business-tags writer, never the datasource's reader. It sends
// no readonly setting, only max_execution_time, and reads at most 64 KiB of answer.
func (c *Client) Write(ctx context.Context, sql string) error {
	u := *c.base
	queryID := newQueryID()
	params := []string{"query_id=" + queryID, fmt.Sprintf("max_execution_time=%d", c.cfg.MaxExecutionTime)}
	if enc := u.Query().Encode(); enc != "" {
		params = append([]string{enc}, params...)
	}
	u.RawQuery = strings.Join(params, "&")
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u.String(), strings.NewReader(sql))
	if err != nil {
		return err
	}
	req.SetBasicAuth(c.cfg.Username, c.cfg.Password)
	req.Header.Set("Content-Type", "text/plain; charset=utf-8")
	resp, err := c.http.Do(req)
	if err != nil {
		return c.abandoned(ctx, queryID, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	if err != nil {
		return c.abandoned(ctx, queryID, err)
	}
	if resp.StatusCode != http.StatusOK {
		return parseError(resp.StatusCode, raw)
	}
	return nil
}

func newQueryID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return "flowlens-" + hex.EncodeToString(b[:])
}

func (c *Client) do(ctx context.Context, sql string, mode Mode) (*Result, error) {
	u := *c.base
	queryID := newQueryID()
	// query_id is not a setting: a readonly=1 profile accepts it, and it is how an abandoned query is killed.
	params := append([]string{"query_id=" + queryID}, c.Settings(mode)...)
	if enc := u.Query().Encode(); enc != "" {
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
		return nil, c.abandoned(ctx, queryID, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, c.cfg.MaxResponseBytes+1))
	if err != nil {
		return nil, c.abandoned(ctx, queryID, err)
	}
	if int64(len(raw)) > c.cfg.MaxResponseBytes {
		c.kill(queryID)
		return nil, &LimitError{What: fmt.Sprintf("the answer is larger than %d bytes", c.cfg.MaxResponseBytes), Setting: "maxResponseBytes"}
	}
	if resp.StatusCode != http.StatusOK {
		return nil, c.limitError(parseError(resp.StatusCode, raw), mode)
	}
	// A failure after the header was sent appears as an exception appended to the body.
	if bytes.Contains(raw, []byte("DB::Exception")) && !json.Valid(raw) {
		return nil, c.limitError(parseError(resp.StatusCode, raw), mode)
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var res Result
	if err := dec.Decode(&res); err != nil {
		return nil, fmt.Errorf("cannot decode ClickHouse response (is %s a ClickHouse HTTP port?): %w", c.cfg.URL, err)
	}
	return &res, nil
}

// abandoned handles a request that ended without a whole answer: the server may still be running
// the query (18.16 does not notice a client that left), so it is killed by its id.
func (c *Client) abandoned(ctx context.Context, queryID string, err error) error {
	c.kill(queryID)
	if ctx.Err() != nil {
		return ctx.Err() // the caller gave up (Grafana cancelled the panel, or its own deadline)
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return &LimitError{What: fmt.Sprintf("ClickHouse did not answer within %s; the query was cancelled on the server", c.cfg.Timeout), Setting: "queryTimeout"}
	}
	return &ConnectError{URL: c.cfg.URL, Err: err}
}

// KillTimeout bounds the KILL QUERY request sent for an abandoned query.
const KillTimeout = 5 * time.Second

// kill asks the server to stop query queryID, in the background: KILL QUERY is allowed to a
// readonly=1 user for its own queries, and ASYNC returns at once.
func (c *Client) kill(queryID string) {
	c.killing.Add(1)
	go func() {
		defer c.killing.Done()
		ctx, cancel := context.WithTimeout(context.Background(), KillTimeout)
		defer cancel()
		u := *c.base
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, u.String(),
			strings.NewReader("KILL QUERY WHERE query_id = '"+queryID+"' ASYNC FORMAT Null"))
		if err != nil {
			return
		}
		req.SetBasicAuth(c.cfg.Username, c.cfg.Password)
		if resp, err := http.DefaultClient.Do(req); err == nil {
			_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<16))
			resp.Body.Close()
		}
	}()
}

// WaitKills waits for the KILL QUERY requests sent so far (tests, and a clean shutdown).
func (c *Client) WaitKills() { c.killing.Wait() }

// limitError turns the server's errors for the bounds into a LimitError.
func (c *Client) limitError(e *Error, mode Mode) error {
	var what, setting string
	switch {
	case e.Code != 159 && e.Code != 158 && e.Code != 396 && e.Code != 241:
		return e
	case mode == ModeNone: // the bound is the profile's, not one the client sent
		return &LimitError{What: "the query hit a limit of the ClickHouse user's profile", Setting: "none (the user is readonly=1, so FlowLens cannot send its own)", Cause: e}
	}
	switch e.Code {
	case 159: // TIMEOUT_EXCEEDED
		what, setting = fmt.Sprintf("the query ran longer than %d s", c.cfg.MaxExecutionTime), "queryTimeout"
	case 158: // TOO_MANY_ROWS
		what, setting = fmt.Sprintf("the query would read more than %d rows", c.cfg.MaxRowsToRead), "maxRowsToRead"
	case 396: // TOO_MANY_ROWS_OR_BYTES (result)
		what, setting = fmt.Sprintf("the answer has more than %d rows", c.cfg.MaxResultRows), "maxResultRows"
	case 241: // MEMORY_LIMIT_EXCEEDED
		what, setting = fmt.Sprintf("the query needs more than %d bytes of memory", c.cfg.MaxMemoryUsage), "maxMemoryUsage"
	}
	return &LimitError{What: what, Setting: setting, Cause: e}
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
