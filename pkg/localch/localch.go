// Package localch finds the users of the local ClickHouse of scripts/clickhouse.sh, for tests,
// benchmarks and tools that talk to it: from the environment that `scripts/clickhouse.sh env`
// exports (scripts/test.sh and bench/run.sh do), else from the credentials file it keeps.
package localch

import (
	"bufio"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
)

// Server is the local server's URL and its users.
type Server struct {
	URL                            string
	Writer, WriterPassword         string // the agent's user: DDL and inserts
	Reader, ReaderPassword         string // Grafana's user: readonly=2
	Tags, TagsPassword             string // the datasource's business-tag writer
	CredentialsFile, CredentialErr string // where the file was looked for, and why it was not read
}

// Env names, as scripts/clickhouse.sh env prints them.
const (
	EnvURL            = "FLOWLENS_CLICKHOUSE_URL"
	EnvWriter         = "FLOWLENS_CLICKHOUSE_USER"
	EnvWriterPassword = "FLOWLENS_CLICKHOUSE_PASSWORD"
	EnvReader         = "FLOWLENS_CLICKHOUSE_GRAFANA_USER"
	EnvReaderPassword = "FLOWLENS_CLICKHOUSE_GRAFANA_PASSWORD"
	EnvTags           = "FLOWLENS_CLICKHOUSE_TAGS_USER"
	EnvTagsPassword   = "FLOWLENS_CLICKHOUSE_TAGS_PASSWORD"
)

// Local returns the local server: each value from the environment when set, else from
// $FLOWLENS_DATA/clickhouse/credentials.env (FLOWLENS_DATA defaults to the repository's .data).
func Local() Server {
	s := Server{CredentialsFile: credentialsPath()}
	file, err := readEnvFile(s.CredentialsFile)
	if err != nil {
		s.CredentialErr = err.Error()
	}
	get := func(name, def string) string {
		if v := os.Getenv(name); v != "" {
			return v
		}
		if v := file[name]; v != "" {
			return v
		}
		return def
	}
	port := os.Getenv("FLOWLENS_CH_HTTP_PORT")
	if port == "" {
		port = "18123"
	}
	s.URL = strings.TrimRight(get(EnvURL, "http://127.0.0.1:"+port), "/")
	s.Writer, s.WriterPassword = get(EnvWriter, "flowlens"), get(EnvWriterPassword, "")
	s.Reader, s.ReaderPassword = get(EnvReader, "grafana"), get(EnvReaderPassword, "")
	s.Tags, s.TagsPassword = get(EnvTags, "grafana_tags"), get(EnvTagsPassword, "")
	return s
}

// Hint says how to give a test the credentials, for failure messages.
func (s Server) Hint() string {
	msg := fmt.Sprintf("ClickHouse at %s as %s: run scripts/clickhouse.sh start, then eval \"$(scripts/clickhouse.sh env)\" (or set %s/%s)", s.URL, s.Writer, EnvWriter, EnvWriterPassword)
	if s.CredentialErr != "" {
		msg += "; " + s.CredentialErr
	}
	return msg
}

// WriterRequest is a POST of sql to the server as the writer.
func (s Server) WriterRequest(sql string) *http.Request {
	req, _ := http.NewRequest(http.MethodPost, s.URL+"/", strings.NewReader(sql))
	req.SetBasicAuth(s.Writer, s.WriterPassword)
	return req
}

func credentialsPath() string {
	data := os.Getenv("FLOWLENS_DATA")
	if data == "" {
		data = filepath.Join(repoRoot(), ".data")
	}
	return filepath.Join(data, "clickhouse", "credentials.env")
}

// repoRoot is the nearest directory above the working directory with a go.mod (tests run in
// their package's directory).
func repoRoot() string {
	dir, err := os.Getwd()
	if err != nil {
		return "."
	}
	for d := dir; ; d = filepath.Dir(d) {
		if _, err := os.Stat(filepath.Join(d, "go.mod")); err == nil {
			return d
		}
		if filepath.Dir(d) == d {
			return dir
		}
	}
}

// readEnvFile reads NAME=value lines as data (the file is never executed).
func readEnvFile(path string) (map[string]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("no credentials file: %v", err)
	}
	defer f.Close()
	out := map[string]string{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(sc.Text()), "export "))
		if k, v, ok := strings.Cut(line, "="); ok && !strings.HasPrefix(k, "#") {
			out[k] = v
		}
	}
	return out, sc.Err()
}
