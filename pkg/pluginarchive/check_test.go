package pluginarchive

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// fixture writes a minimal plugin like FlowLens's dist: an app including a backend datasource.
func fixture(t *testing.T) string {
	t.Helper()
	license, err := os.ReadFile(filepath.Join("..", "..", "LICENSE"))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	write := func(rel, text string, mode os.FileMode) {
		p := filepath.Join(dir, rel)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(text), mode); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(p, mode); err != nil {
			t.Fatal(err)
		}
	}
	info := `"info":{"version":"1.2.3","updated":"2026-12-02","author":{"name":"x"},"logos":{"small":"img/logo.svg","large":"img/logo.svg"}}`
	write("plugin.json", `{"id":"acme-thing-app","type":"app","name":"Thing",`+info+`,
		"includes":[{"type":"datasource","name":"DS","path":"datasource/plugin.json"},{"type":"page","name":"Home","path":"/a/acme-thing-app"},
			{"type":"dashboard","name":"Overview","path":"dashboards/overview.json"}],
		"dependencies":{"grafanaDependency":">=13.2.0"}}`, 0o644)
	write("datasource/plugin.json", `{"id":"acme-thing-datasource","type":"datasource","name":"DS","backend":true,"alerting":true,
		"executable":"gpx_thing",`+info+`}`, 0o644)
	for _, d := range []string{"", "datasource/"} {
		write(d+"module.js", "/* [create-plugin] version: 6.0.0 */ define([], function () {});", 0o644)
		write(d+"module.js.map", "{}", 0o644)
		write(d+"img/logo.svg", `<svg xmlns="http://www.w3.org/2000/svg"><circle r="4"/></svg>`, 0o644)
	}
	for _, s := range RequiredBinaries {
		write("datasource/gpx_thing_"+s, "\x7fELF", 0o755)
	}
	write("dashboards/overview.json", `{"uid":"thing-overview","title":"Thing","panels":[{"id":1,"type":"timeseries"}]}`, 0o644)
	write("README.md", "# Thing", 0o644)
	write("CHANGELOG.md", "# 1.2.3", 0o644)
	write("LICENSE", string(license), 0o644)
	write("go_plugin_build_manifest", strings.Repeat("a", 64)+":pkg/main.go\n", 0o644)
	return dir
}

func check(t *testing.T, dist, id string) Report {
	t.Helper()
	out := filepath.Join(t.TempDir(), id+".zip")
	if err := Pack(dist, id, out); err != nil {
		t.Fatal(err)
	}
	r, err := Check(out, "")
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func TestAValidArchivePasses(t *testing.T) {
	r := check(t, fixture(t), "acme-thing-app")
	if errs := r.Errors(); len(errs) != 0 {
		t.Fatalf("errors on a valid archive:\n%s", errs)
	}
	for _, want := range []string{"ok      binarypermissions: datasource/plugin.json: 4 binaries, each 0755",
		"ok      includesnested: datasource/plugin.json declared as a datasource", "ok      license: LICENSE: the Apache License 2.0, full text",
		"warning manifest: unsigned: no MANIFEST.txt", "ok      includesdashboard: dashboards/overview.json: dashboard thing-overview (Thing), 1 panels"} {
		if !strings.Contains(r.String(), want) {
			t.Errorf("report lacks %q:\n%s", want, r)
		}
	}
}

// Each fault the validator documents is reported as an error of its analyzer.
func TestEachFaultIsAnError(t *testing.T) {
	for _, c := range []struct {
		name, id, analyzer, want string
		spoil                    func(dir string) error
	}{
		{"binary not 0755", "acme-thing-app", "binarypermissions", "gpx_thing_linux_arm64 0644",
			func(d string) error { return os.Chmod(filepath.Join(d, "datasource", "gpx_thing_linux_arm64"), 0o644) }},
		{"no arm64 binary", "acme-thing-app", "backendbinary", "no gpx_thing binary for linux_arm64",
			func(d string) error { return os.Remove(filepath.Join(d, "datasource", "gpx_thing_linux_arm64")) }},
		{"undeclared nested plugin", "acme-thing-app", "includesnested", "panels/x/plugin.json (acme-x-panel) is in the archive but not declared",
			func(d string) error {
				_ = os.MkdirAll(filepath.Join(d, "panels", "x"), 0o755)
				return os.WriteFile(filepath.Join(d, "panels", "x", "plugin.json"), []byte(`{"id":"acme-x-panel","type":"panel"}`), 0o644)
			}},
		{"declared nested plugin missing", "acme-thing-app", "nestedmetadata", "includes a datasource at datasource/plugin.json, which the archive lacks",
			func(d string) error { return os.RemoveAll(filepath.Join(d, "datasource")) }},
		{"declared dashboard missing", "acme-thing-app", "includesdashboard", "includes the dashboard dashboards/overview.json, which the archive lacks",
			func(d string) error { return os.Remove(filepath.Join(d, "dashboards", "overview.json")) }},
		{"dashboard without uid", "acme-thing-app", "includesdashboard", "a dashboard needs a uid, a title and panels",
			func(d string) error {
				return os.WriteFile(filepath.Join(d, "dashboards", "overview.json"), []byte(`{"title":"Thing","panels":[{}]}`), 0o644)
			}},
		{"dashboard not JSON", "acme-thing-app", "includesdashboard", "dashboards/overview.json is not valid JSON",
			func(d string) error {
				return os.WriteFile(filepath.Join(d, "dashboards", "overview.json"), []byte(`{"uid":`), 0o644)
			}},
		{"MIT license", "acme-thing-app", "license", "not the full Apache License 2.0 text",
			func(d string) error { return os.WriteFile(filepath.Join(d, "LICENSE"), []byte("MIT License\n"), 0o644) }},
		{"hand-built bundle", "acme-thing-app", "buildtools", "no banner",
			func(d string) error {
				return os.WriteFile(filepath.Join(d, "module.js"), []byte("define([],function(){})"), 0o644)
			}},
		{"version not filled in", "acme-thing-app", "metadatavalid", "info.version missing or not filled in",
			func(d string) error {
				b, _ := os.ReadFile(filepath.Join(d, "plugin.json"))
				return os.WriteFile(filepath.Join(d, "plugin.json"), []byte(strings.Replace(string(b), `"1.2.3"`, `"%VERSION%"`, 1)), 0o644)
			}},
		{"root not the id", "dist", "archivename", "the root directory dist is not the plugin id", func(string) error { return nil }},
		{"script in an svg", "acme-thing-app", "unsafesvg", "holds scripts",
			func(d string) error {
				return os.WriteFile(filepath.Join(d, "img", "logo.svg"), []byte(`<svg onload="alert(1)"></svg>`), 0o644)
			}},
		{"bad manifest line", "acme-thing-app", "go-manifest", "is not sha256:path",
			func(d string) error {
				return os.WriteFile(filepath.Join(d, "go_plugin_build_manifest"), []byte("main.go\n"), 0o644)
			}},
		{"debug leftovers", "acme-thing-app", "backenddebug", "standalone.txt",
			func(d string) error {
				return os.WriteFile(filepath.Join(d, "datasource", "standalone.txt"), []byte("1"), 0o644)
			}},
		{"alerting without backend", "acme-thing-app", "backendbinary", "alerting without backend",
			func(d string) error {
				p := filepath.Join(d, "datasource", "plugin.json")
				b, _ := os.ReadFile(p)
				return os.WriteFile(p, []byte(strings.Replace(string(b), `"backend":true`, `"backend":false`, 1)), 0o644)
			}},
	} {
		dir := fixture(t)
		if err := c.spoil(dir); err != nil {
			t.Fatal(err)
		}
		r := check(t, dir, c.id).Errors().Find(c.analyzer)
		if len(r) == 0 || !strings.Contains(r.String(), c.want) {
			t.Errorf("%s: %s errors %q, want one containing %q", c.name, c.analyzer, r, c.want)
		}
	}
}
