package plugin

import (
	"encoding/json"
	"fmt"
	"strings"

	"github.com/grafana/grafana-plugin-sdk-go/backend"

	"github.com/flowlens/flowlens/pkg/query"
)

// Defaults for the datasource settings.
const (
	DefaultURL      = "http://127.0.0.1:18123"
	DefaultDatabase = "flowlens"
	DefaultUsername = "grafana"
	DefaultTimeout  = 30 // seconds
)

// Settings are the datasource's jsonData plus the decrypted secureJsonData password.
type Settings struct {
	URL          string `json:"url"`
	Database     string `json:"database"`
	Username     string `json:"username"`
	QueryTimeout int    `json:"queryTimeout"` // seconds
	Password     string `json:"-"`
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
	st.Password = s.DecryptedSecureJSONData["password"]
	return st, nil
}
