package plugin

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/grafana/grafana-plugin-sdk-go/backend"

	"github.com/flowlens/flowlens/pkg/query"
)

// Defaults for the datasource settings.
const (
	DefaultURL       = "http://127.0.0.1:18123"
	DefaultDatabase  = "flowlens"
	DefaultUsername  = "grafana"
	DefaultTimeout   = 30 // seconds
	MaxTimeout       = 3600
	DefaultMaxSeries = 100
)

// DefaultMaxSpanDays is the longest time range one query of each type may cover: request logs,
// traces and profiles are read row by row (10M request logs an hour at 10k req/s), RED and the
// map read the per-second rollup.
var DefaultMaxSpanDays = map[string]int{
	query.TypeSQLLog: 7, query.TypeTrace: 7, query.TypeTraceSearch: 7, query.TypeFlameGraph: 7, query.TypeRED: 31, query.TypeMap: 31,
	query.TypeFlowLog: 7, query.TypeNetProfile: 7, query.TypeNetMetrics: 31, query.TypeNetProfileSummary: 7, query.TypeAnnotations: 31,
	query.TypeTriage: 7,
}

// Settings are the datasource's jsonData plus the decrypted secureJsonData password.
type Settings struct {
	URL          string `json:"url"`
	Database     string `json:"database"`
	Username     string `json:"username"`
	QueryTimeout int    `json:"queryTimeout"` // seconds, at most MaxTimeout
	// Sent with every query as max_memory_usage, max_rows_to_read and max_result_rows when the
	// user's profile allows settings (readonly=0 or 2); 0 = the clickhouse package's default.
	MaxMemoryUsage int64 `json:"maxMemoryUsage"`
	MaxRowsToRead  int64 `json:"maxRowsToRead"`
	MaxResultRows  int64 `json:"maxResultRows"`
	// MaxResponseBytes caps the body read from ClickHouse, whatever the profile.
	MaxResponseBytes int64 `json:"maxResponseBytes"`
	// MaxSeries bounds the services of one RED query (each is a series per metric).
	MaxSeries int `json:"maxSeries"`
	// MaxSpanDays bounds the time range per query type (keys: red, map, sql_log, trace, trace_search, flamegraph, flow_log, net_metrics, netprofile, netprofile_summary, annotations, triage).
	MaxSpanDays map[string]int `json:"maxSpanDays"`
	Password    string         `json:"-"`
	// TagsUsername is the ClickHouse user business-tag changes are written as (INSERT into
	// business_tags only: never the reader, never the agent's writer); empty: tags are read-only.
	TagsUsername string `json:"tagsUsername"`
	TagsPassword string `json:"-"`
}

// MaxSpan is the longest time range a query of type queryType may cover.
func (s Settings) MaxSpan(queryType string) time.Duration {
	days := s.MaxSpanDays[queryType]
	if days <= 0 {
		days = DefaultMaxSpanDays[queryType]
	}
	if days <= 0 {
		days = DefaultMaxSpanDays[query.TypeSQLLog]
	}
	return time.Duration(days) * 24 * time.Hour
}

// LoadSettings reads and defaults the instance settings. The datasource's own URL field
// (the "url" of provisioning, outside jsonData) is used when jsonData.url is empty.
func LoadSettings(s backend.DataSourceInstanceSettings) (Settings, error) {
	var st Settings
	if len(s.JSONData) > 0 && string(s.JSONData) != "null" {
		if err := json.Unmarshal(s.JSONData, &st); err != nil {
			return st, fmt.Errorf("datasource jsonData is not valid JSON: %w", err)
		}
	}
	st.URL = strings.TrimSpace(st.URL)
	if st.URL == "" {
		st.URL = strings.TrimSpace(s.URL)
	}
	if st.URL == "" {
		st.URL = DefaultURL
	}
	st.URL = strings.TrimRight(st.URL, "/")
	if st.Database == "" {
		st.Database = DefaultDatabase
	}
	if _, err := query.Ident(st.Database); err != nil {
		return st, fmt.Errorf("datasource setting database: %w", err)
	}
	if st.Username == "" {
		st.Username = DefaultUsername
	}
	if st.QueryTimeout <= 0 {
		st.QueryTimeout = DefaultTimeout
	}
	st.QueryTimeout = min(st.QueryTimeout, MaxTimeout)
	if st.MaxSeries <= 0 {
		st.MaxSeries = DefaultMaxSeries
	}
	for k := range st.MaxSpanDays {
		if _, known := DefaultMaxSpanDays[k]; !known {
			return st, fmt.Errorf("datasource setting maxSpanDays: %s is not a query type (red, map, sql_log, trace, trace_search, flamegraph, flow_log, net_metrics, netprofile, netprofile_summary, annotations, triage)", query.Quote(k))
		}
	}
	st.Password = s.DecryptedSecureJSONData["password"]
	st.TagsUsername = strings.TrimSpace(st.TagsUsername)
	st.TagsPassword = s.DecryptedSecureJSONData["tagsPassword"]
	if st.TagsUsername != "" && st.TagsUsername == st.Username {
		return st, fmt.Errorf("datasource setting tagsUsername: %s is the reader; tag writes need a user of their own", query.Quote(st.TagsUsername))
	}
	return st, nil
}
