package localch

import (
	"os"
	"path/filepath"
	"testing"
)

func TestEnvironmentFirstThenTheCredentialsFile(t *testing.T) {
	data := t.TempDir()
	os.MkdirAll(filepath.Join(data, "clickhouse"), 0o700)
	os.WriteFile(filepath.Join(data, "clickhouse", "credentials.env"), []byte("FLOWLENS_CLICKHOUSE_USER=w\nFLOWLENS_CLICKHOUSE_PASSWORD=a=b\n# x\nFLOWLENS_CLICKHOUSE_GRAFANA_PASSWORD=r\n"), 0o600)
	t.Setenv("FLOWLENS_DATA", data)
	t.Setenv("FLOWLENS_CH_HTTP_PORT", "28999")
	for _, k := range []string{EnvURL, EnvWriter, EnvWriterPassword, EnvReader, EnvReaderPassword} {
		t.Setenv(k, "")
	}
	s := Local()
	if s.URL != "http://127.0.0.1:28999" || s.Writer != "w" || s.WriterPassword != "a=b" || s.Reader != "grafana" || s.ReaderPassword != "r" {
		t.Errorf("from the file: %+v", s)
	}
	t.Setenv(EnvWriterPassword, "fromenv")
	t.Setenv(EnvURL, "http://h:1/")
	if s := Local(); s.WriterPassword != "fromenv" || s.URL != "http://h:1" {
		t.Errorf("the environment wins: %+v", s)
	}
	t.Setenv("FLOWLENS_DATA", filepath.Join(data, "none"))
	if s := Local(); s.CredentialErr == "" || s.ReaderPassword != "" {
		t.Errorf("no file: %+v", s)
	}
}
