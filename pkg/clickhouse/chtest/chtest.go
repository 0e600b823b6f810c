// Package chtest runs a private ClickHouse server for tests that need users the shared local
// server does not have: the installed clickhouse-server (18.16 here, as scripts/clickhouse.sh
// runs it) on free loopback ports, with a writer and a readonly=1 and a readonly=2 user.
package chtest

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// Users of the private server; each one's password is "pw-" + its name.
const (
	Writer    = "writer"    // profile readonly=0
	Readonly1 = "readonly1" // profile readonly=1: refuses every setting
	Readonly2 = "readonly2" // profile readonly=2: reads, and may change settings
)

// Password is the password of user.
func Password(user string) string { return "pw-" + user }

// Server is a running private server.
type Server struct {
	URL string
	dir string
}

func freePort(t testing.TB) int {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// Start runs the server until the test ends.
func Start(t testing.TB) *Server {
	t.Helper()
	bin := "/usr/sbin/clickhouse-server"
	if _, err := os.Stat(bin); err != nil {
		t.Fatalf("%s is not installed (scripts/setup.sh installs it): %v", bin, err)
	}
	dir := t.TempDir()
	httpPort, tcpPort := freePort(t), freePort(t)
	user := func(name, profile string) string {
		return fmt.Sprintf("<%s><password>%s</password><networks><ip>127.0.0.1</ip></networks><profile>%s</profile><quota>default</quota></%s>",
			name, Password(name), profile, name)
	}
	files := map[string]string{
		"config.xml": fmt.Sprintf(`<?xml version="1.0"?><yandex>
<logger><level>warning</level><log>%[1]s/server.log</log><errorlog>%[1]s/server.err.log</errorlog></logger>
<http_port>%[2]d</http_port><tcp_port>%[3]d</tcp_port><listen_host>127.0.0.1</listen_host>
<path>%[1]s/db/</path><tmp_path>%[1]s/tmp/</tmp_path><user_files_path>%[1]s/user_files/</user_files_path>
<users_config>%[1]s/users.xml</users_config><default_profile>default</default_profile><default_database>default</default_database>
<timezone>UTC</timezone><mlock_executable>false</mlock_executable><mark_cache_size>67108864</mark_cache_size>
</yandex>`, dir, httpPort, tcpPort),
		"users.xml": `<?xml version="1.0"?><yandex>
<profiles><default><max_memory_usage>2000000000</max_memory_usage></default>
<ro1><readonly>1</readonly></ro1><ro2><readonly>2</readonly></ro2></profiles>
<users>` + user(Writer, "default") + user(Readonly1, "ro1") + user(Readonly2, "ro2") + `</users>
<quotas><default><interval><duration>3600</duration><queries>0</queries><errors>0</errors><result_rows>0</result_rows><read_rows>0</read_rows><execution_time>0</execution_time></interval></default></quotas>
</yandex>`,
	}
	for name, text := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	cmd := exec.Command(bin, "--config-file="+filepath.Join(dir, "config.xml"))
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})
	s := &Server{URL: fmt.Sprintf("http://127.0.0.1:%d", httpPort), dir: dir}
	deadline := time.Now().Add(30 * time.Second)
	for {
		if _, err := s.Exec(Writer, "SELECT 1"); err == nil {
			return s
		}
		if time.Now().After(deadline) {
			log, _ := os.ReadFile(filepath.Join(dir, "server.err.log"))
			t.Fatalf("private ClickHouse did not start within 30 s: %s", log)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// Exec runs sql as user and returns the body, or the server's error.
func (s *Server) Exec(user, sql string) (string, error) {
	req, _ := http.NewRequest(http.MethodPost, s.URL+"/", strings.NewReader(sql))
	req.SetBasicAuth(user, Password(user))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("ClickHouse: %s", strings.TrimSpace(string(b)))
	}
	return strings.TrimSpace(string(b)), nil
}

// MustExec is Exec that fails the test on an error.
func (s *Server) MustExec(t testing.TB, user, sql string) string {
	t.Helper()
	out, err := s.Exec(user, sql)
	if err != nil {
		t.Fatalf("%s: %v", firstLine(sql), err)
	}
	return out
}

func firstLine(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		s = s[:i]
	}
	if len(s) > 120 {
		s = s[:120] + "…"
	}
	return s
}
