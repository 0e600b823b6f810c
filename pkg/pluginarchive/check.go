package pluginarchive

import (
	"archive/zip"
	"bufio"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
)

// Severities of a Result, as the validator reports them.
const (
	OK      = "ok"
	Warning = "warning"
	Error   = "error"
)

// Result is one finding, named after the validator analyzer it stands in for.
type Result struct {
	Analyzer, Severity, Message string
}

func (r Result) String() string { return fmt.Sprintf("%-7s %s: %s", r.Severity, r.Analyzer, r.Message) }

// Report is every finding of one check.
type Report []Result

// Errors are the findings of severity Error.
func (r Report) Errors() Report {
	var out Report
	for _, x := range r {
		if x.Severity == Error {
			out = append(out, x)
		}
	}
	return out
}

// Find returns the findings of an analyzer.
func (r Report) Find(analyzer string) Report {
	var out Report
	for _, x := range r {
		if x.Analyzer == analyzer {
			out = append(out, x)
		}
	}
	return out
}

func (r Report) String() string {
	lines := make([]string, len(r))
	for i, x := range r {
		lines[i] = x.String()
	}
	return strings.Join(lines, "\n")
}

// RequiredBinaries are the platforms this project ships a backend binary for (executable_<suffix>).
var RequiredBinaries = []string{"linux_amd64", "linux_arm64", "darwin_amd64", "darwin_arm64"}

// pluginJSON is what the checks read of a plugin.json.
type pluginJSON struct {
	ID         string `json:"id"`
	Type       string `json:"type"`
	Name       string `json:"name"`
	Backend    bool   `json:"backend"`
	Alerting   bool   `json:"alerting"`
	Executable string `json:"executable"`
	Info       struct {
		Version string `json:"version"`
		Updated string `json:"updated"`
		Author  struct {
			Name string `json:"name"`
		} `json:"author"`
		Logos struct {
			Small string `json:"small"`
			Large string `json:"large"`
		} `json:"logos"`
		Screenshots []struct {
			Name string `json:"name"`
			Path string `json:"path"`
		} `json:"screenshots"`
	} `json:"info"`
	Includes []struct {
		Type string `json:"type"`
		Name string `json:"name"`
		Path string `json:"path"`
	} `json:"includes"`
	Dependencies struct {
		GrafanaDependency string `json:"grafanaDependency"`
	} `json:"dependencies"`
}

var (
	pluginIDRe   = regexp.MustCompile(`^[a-z0-9]+(-[a-z0-9]+)*-(app|panel|datasource)$`)
	dependencyRe = regexp.MustCompile(`^(>=|>|<=|<|=|~|\^)?\s*\d+\.\d+\.\d+(-[0-9A-Za-z.-]+)?(\s*(<|<=)\s*\d+\.\d+\.\d+)?$`)
	unsafeSVGRe  = regexp.MustCompile(`(?i)<script|javascript:|<foreignObject|\son[a-z]+\s*=`)
	trackingRe   = regexp.MustCompile(`(?i)google-analytics\.com|googletagmanager\.com|cdn\.segment\.com|hotjar\.com|mixpanel\.com`)
	legacyRe     = regexp.MustCompile(`grafana/app/plugins/sdk|define\(\[[^\]]*"angular"|\bPanelCtrl\b|\bQueryCtrl\b`)
)

type checker struct {
	files  map[string]*zip.File // by path inside the archive
	root   string               // the root directory
	report Report
}

func (c *checker) add(analyzer, severity, format string, args ...any) {
	c.report = append(c.report, Result{analyzer, severity, fmt.Sprintf(format, args...)})
}

// expect adds an OK finding when cond holds, else an Error.
func (c *checker) expect(cond bool, analyzer, okMsg, errFormat string, args ...any) {
	if cond {
		c.add(analyzer, OK, "%s", okMsg)
	} else {
		c.add(analyzer, Error, errFormat, args...)
	}
}

func (c *checker) read(name string) ([]byte, bool) {
	f, ok := c.files[name]
	if !ok {
		return nil, false
	}
	r, err := f.Open()
	if err != nil {
		return nil, false
	}
	defer r.Close()
	b, err := io.ReadAll(r)
	return b, err == nil
}

// Check checks the archive at zipPath. sourceDir, when set, is the source tree the archive was
// built from (a git checkout): the checks that compare the two (Go build manifest, package.json,
// build tooling) run too, as the validator runs them with -sourceCodeUri.
func Check(zipPath, sourceDir string) (Report, error) {
	z, err := zip.OpenReader(zipPath)
	if err != nil {
		return nil, err
	}
	defer z.Close()
	c := &checker{files: map[string]*zip.File{}}
	roots := map[string]bool{}
	for _, f := range z.File {
		if strings.HasSuffix(f.Name, "/") {
			continue
		}
		c.files[f.Name] = f
		roots[strings.SplitN(f.Name, "/", 2)[0]] = true
		if !strings.Contains(f.Name, "/") {
			roots[""] = true // a file at the top level
		}
	}
	if len(c.files) == 0 {
		c.add("archive", Error, "the archive is empty")
		return c.report, nil
	}
	if len(roots) != 1 || roots[""] {
		c.add("archive", Error, "the archive must hold exactly one root directory, named after the plugin id: found %d top-level entries", len(roots))
		return c.report, nil
	}
	for r := range roots {
		c.root = r
	}
	c.expect(c.root != "dist", "archive", "one root directory, "+c.root, "the root directory is dist: rename it to the plugin id")

	rootJSON, ok := c.metadata("plugin.json")
	if !ok {
		return c.report, nil
	}
	c.expect(c.root == rootJSON.ID, "archivename", "the root directory is the plugin id", "the root directory %s is not the plugin id %s", c.root, rootJSON.ID)
	c.expect(dependencyRe.MatchString(rootJSON.Dependencies.GrafanaDependency), "grafanadependency",
		"dependencies.grafanaDependency "+rootJSON.Dependencies.GrafanaDependency, "dependencies.grafanaDependency %q is not a version range", rootJSON.Dependencies.GrafanaDependency)
	if len(rootJSON.Info.Screenshots) == 0 {
		c.add("screenshots", Warning, "plugin.json lists no screenshots: the catalog shows none")
	}

	nested := c.nestedPlugins(rootJSON)
	c.dashboards(rootJSON)
	all := map[string]*pluginJSON{"plugin.json": rootJSON}
	for k, v := range nested {
		all[k] = v
	}
	keys := make([]string, 0, len(all))
	for k := range all {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		c.pluginFiles(k, all[k])
		c.backend(k, all[k])
	}
	c.rootFiles()
	c.bundles()
	c.goManifest(sourceDir)
	if sourceDir != "" {
		c.source(sourceDir, rootJSON)
	}
	return c.report, nil
}

// metadata reads and checks one plugin.json (path relative to the root): the metadata,
// metadatavalid, pluginname and typesuffix analyzers.
func (c *checker) metadata(rel string) (*pluginJSON, bool) {
	b, ok := c.read(c.root + "/" + rel)
	if !ok {
		c.add("metadata", Error, "%s is missing", rel)
		return nil, false
	}
	var p pluginJSON
	if err := json.Unmarshal(b, &p); err != nil {
		c.add("metadata", Error, "%s is not valid JSON: %v", rel, err)
		return nil, false
	}
	var missing []string
	for field, v := range map[string]string{"id": p.ID, "type": p.Type, "name": p.Name, "info.version": p.Info.Version,
		"info.updated": p.Info.Updated, "info.author.name": p.Info.Author.Name, "info.logos.small": p.Info.Logos.Small, "info.logos.large": p.Info.Logos.Large} {
		if v == "" || strings.Contains(v, "%") { // %VERSION% and %TODAY% are filled in by the build
			missing = append(missing, field)
		}
	}
	sort.Strings(missing)
	c.expect(len(missing) == 0, "metadatavalid", rel+": id, type, name, version, updated, author and logos set",
		"%s: %s missing or not filled in by the build", rel, strings.Join(missing, ", "))
	m := pluginIDRe.FindStringSubmatch(p.ID)
	c.expect(m != nil, "pluginname", rel+": id "+p.ID+" is <org>-<name>-<type>", "%s: id %q is not <org>-<name>-<type> in lower case", rel, p.ID)
	c.expect(m != nil && m[2] == p.Type, "typesuffix", rel+": id ends with its type "+p.Type, "%s: id %q does not end with its type %q", rel, p.ID, p.Type)
	return &p, true
}

// nestedPlugins reads every other plugin.json and checks the root's includes declare each with
// its type, and that each include of a nested plugin is in the archive: nestedmetadata, includesnested.
func (c *checker) nestedPlugins(root *pluginJSON) map[string]*pluginJSON {
	out := map[string]*pluginJSON{}
	declared := map[string]string{}
	for _, inc := range root.Includes {
		if strings.HasSuffix(inc.Path, "plugin.json") {
			declared[path.Clean(inc.Path)] = inc.Type
		}
	}
	var names []string
	for name := range c.files {
		rel := strings.TrimPrefix(name, c.root+"/")
		if path.Base(rel) == "plugin.json" && rel != "plugin.json" {
			names = append(names, rel)
		}
	}
	sort.Strings(names)
	for _, rel := range names {
		p, ok := c.metadata(rel)
		if !ok {
			continue
		}
		out[rel] = p
		t, isDeclared := declared[rel]
		switch {
		case !isDeclared:
			c.add("includesnested", Error, "%s (%s) is in the archive but not declared in plugin.json's includes", rel, p.ID)
		case t == "":
			c.add("includesnested", Error, "plugin.json includes %s without a type", rel)
		case t != p.Type:
			c.add("includesnested", Error, "plugin.json includes %s as a %s, its plugin.json says %s", rel, t, p.Type)
		default:
			c.add("includesnested", OK, "%s declared as a %s", rel, t)
		}
	}
	for rel, t := range declared {
		if _, ok := out[rel]; !ok {
			c.add("nestedmetadata", Error, "plugin.json includes a %s at %s, which the archive lacks", t, rel)
		}
	}
	return out
}

// dashboards checks the root's includes of type dashboard: each in the archive, a dashboard JSON with a
// uid, a title and panels, uids unique (Grafana imports them by uid); a dashboards/*.json in the archive
// that no include declares is never imported (includesdashboard).
func (c *checker) dashboards(root *pluginJSON) {
	declared := map[string]bool{}
	uids := map[string]string{}
	for _, inc := range root.Includes {
		if inc.Type != "dashboard" {
			continue
		}
		rel := path.Clean(inc.Path)
		declared[rel] = true
		b, ok := c.read(c.root + "/" + rel)
		if !ok {
			c.add("includesdashboard", Error, "plugin.json includes the dashboard %s, which the archive lacks", rel)
			continue
		}
		var d struct {
			UID    string            `json:"uid"`
			Title  string            `json:"title"`
			Panels []json.RawMessage `json:"panels"`
		}
		if err := json.Unmarshal(b, &d); err != nil {
			c.add("includesdashboard", Error, "%s is not valid JSON: %v", rel, err)
			continue
		}
		switch {
		case d.UID == "" || d.Title == "" || len(d.Panels) == 0:
			c.add("includesdashboard", Error, "%s: a dashboard needs a uid, a title and panels (uid %q, title %q, %d panels)", rel, d.UID, d.Title, len(d.Panels))
		case uids[d.UID] != "":
			c.add("includesdashboard", Error, "%s: uid %s is also %s's", rel, d.UID, uids[d.UID])
		default:
			c.add("includesdashboard", OK, "%s: dashboard %s (%s), %d panels", rel, d.UID, d.Title, len(d.Panels))
		}
		uids[d.UID] = rel
	}
	var names []string
	for name := range c.files {
		rel := strings.TrimPrefix(name, c.root+"/")
		if strings.HasPrefix(rel, "dashboards/") && strings.HasSuffix(rel, ".json") && !declared[rel] {
			names = append(names, rel)
		}
	}
	sort.Strings(names)
	for _, rel := range names {
		c.add("includesdashboard", Warning, "%s is in the archive but no include declares it: Grafana never imports it", rel)
	}
}

// pluginFiles checks one plugin's own files: module.js and its source map (modulejs, jsMap),
// logos and screenshots where plugin.json says (logos, metadatapaths), safe SVGs (unsafesvg).
func (c *checker) pluginFiles(rel string, p *pluginJSON) {
	dir := path.Dir(rel)
	at := func(p string) string { return path.Clean(c.root + "/" + dir + "/" + p) }
	_, hasModule := c.files[at("module.js")]
	c.expect(hasModule, "modulejs", rel+": module.js", "%s: module.js is missing", rel)
	_, hasMap := c.files[at("module.js.map")]
	c.expect(hasMap, "jsMap", rel+": module.js.map", "%s: module.js.map is missing", rel)
	for _, logo := range []string{p.Info.Logos.Small, p.Info.Logos.Large} {
		_, ok := c.files[at(logo)]
		ext := strings.ToLower(path.Ext(logo))
		c.expect(ok && (ext == ".svg" || ext == ".png" || ext == ".jpg" || ext == ".jpeg"), "logos", rel+": logo "+logo,
			"%s: logo %q is not in the archive or not an svg/png/jpg image", rel, logo)
	}
	for _, s := range p.Info.Screenshots {
		_, ok := c.files[at(s.Path)]
		c.expect(ok, "metadatapaths", rel+": screenshot "+s.Path, "%s: screenshot %q is not in the archive", rel, s.Path)
	}
}

// backend checks a backend plugin's declaration and binaries: backendbinary, binarypermissions.
func (c *checker) backend(rel string, p *pluginJSON) {
	switch {
	case p.Alerting && !p.Backend:
		c.add("backendbinary", Error, "%s: alerting without backend", rel)
		return
	case p.Executable != "" && !p.Backend:
		c.add("backendbinary", Error, "%s: an executable without backend", rel)
		return
	case p.Backend && p.Executable == "":
		c.add("backendbinary", Error, "%s: backend without an executable", rel)
		return
	case p.Executable == "":
		return
	}
	exe := path.Clean(c.root + "/" + path.Dir(rel) + "/" + p.Executable)
	var missing []string
	for _, suffix := range RequiredBinaries {
		if _, ok := c.files[exe+"_"+suffix]; !ok {
			missing = append(missing, suffix)
		}
	}
	c.expect(len(missing) == 0, "backendbinary", fmt.Sprintf("%s: %s for %s", rel, p.Executable, strings.Join(RequiredBinaries, ", ")),
		"%s: no %s binary for %s", rel, p.Executable, strings.Join(missing, ", "))
	var bad []string
	n := 0
	for name, f := range c.files {
		if path.Dir(name) == path.Dir(exe) && strings.HasPrefix(path.Base(name), path.Base(exe)) && path.Ext(name) != ".exe" {
			n++
			if f.Mode().Perm() != 0o755 || !f.Mode().IsRegular() {
				bad = append(bad, fmt.Sprintf("%s %04o", path.Base(name), f.Mode().Perm()))
			}
		}
	}
	sort.Strings(bad)
	c.expect(len(bad) == 0 && n > 0, "binarypermissions", fmt.Sprintf("%s: %d binaries, each 0755", rel, n), "%s: binaries must be exactly 0755: %s", rel, strings.Join(bad, ", "))
}

// rootFiles checks README, CHANGELOG, LICENSE (readme, changelog, license), the signature
// manifest (manifest) and debug leftovers (backenddebug).
func (c *checker) rootFiles() {
	for _, name := range []string{"README.md", "CHANGELOG.md"} {
		_, ok := c.files[c.root+"/"+name]
		analyzer := strings.ToLower(strings.TrimSuffix(name, ".md"))
		c.expect(ok, analyzer, name, "%s is missing from the archive root", name)
	}
	lic, ok := c.read(c.root + "/LICENSE")
	text := string(lic)
	c.expect(ok && strings.Contains(text, "Apache License") && strings.Contains(text, "Version 2.0, January 2004") &&
		strings.Contains(text, "TERMS AND CONDITIONS FOR USE, REPRODUCTION, AND DISTRIBUTION") && len(text) > 10000,
		"license", "LICENSE: the Apache License 2.0, full text", "LICENSE is missing from the archive root or is not the full Apache License 2.0 text")
	if m, ok := c.read(c.root + "/MANIFEST.txt"); ok {
		c.expect(strings.Contains(string(m), "-----BEGIN PGP SIGNED MESSAGE-----"), "manifest", "MANIFEST.txt is a signed manifest", "MANIFEST.txt is not a signed manifest")
	} else {
		c.add("manifest", Warning, "unsigned: no MANIFEST.txt (sign with npm run sign before publishing)")
	}
	var debug []string
	for name := range c.files {
		if b := path.Base(name); b == "standalone.txt" || b == "pid.txt" {
			debug = append(debug, name)
		}
	}
	c.expect(len(debug) == 0, "backenddebug", "no standalone.txt or pid.txt", "backend debug files bundled: %s", strings.Join(debug, ", "))
}

// bundles checks every JavaScript file: built by create-plugin's webpack (its banner in each
// module.js: no hand-built bundler output), no Angular (legacyplatform), no tracking scripts.
func (c *checker) bundles() {
	var modules, legacy, tracking []string
	for name := range c.files {
		if !strings.HasSuffix(name, ".js") {
			if strings.HasSuffix(name, ".svg") {
				b, _ := c.read(name)
				c.expect(!unsafeSVGRe.Match(b), "unsafesvg", strings.TrimPrefix(name, c.root+"/")+" is plain", "%s holds scripts or event handlers", name)
			}
			continue
		}
		b, _ := c.read(name)
		if path.Base(name) == "module.js" && !strings.Contains(string(b), "[create-plugin] version") {
			modules = append(modules, name)
		}
		if legacyRe.Match(b) {
			legacy = append(legacy, name)
		}
		if trackingRe.Match(b) {
			tracking = append(tracking, name)
		}
	}
	sort.Strings(modules)
	c.expect(len(modules) == 0, "buildtools", "every module.js carries create-plugin's build banner", "not built by create-plugin's webpack (no banner): %s", strings.Join(modules, ", "))
	c.expect(len(legacy) == 0, "legacyplatform", "no Angular plugin code", "Angular plugin code in %s", strings.Join(legacy, ", "))
	c.expect(len(tracking) == 0, "trackingscripts", "no known tracking scripts", "tracking scripts in %s", strings.Join(tracking, ", "))
}

// goManifest checks go_plugin_build_manifest at the root (go-manifest): sha256:path lines and,
// with the source tree, one line per Go file the repository holds with that file's hash, and none else.
func (c *checker) goManifest(sourceDir string) {
	b, ok := c.read(c.root + "/go_plugin_build_manifest")
	if !ok {
		c.add("go-manifest", Error, "go_plugin_build_manifest is missing from the archive root")
		return
	}
	manifest := map[string]string{}
	sc := bufio.NewScanner(strings.NewReader(string(b)))
	for sc.Scan() {
		line := sc.Text()
		if line == "" {
			continue
		}
		parts := strings.Split(line, ":")
		if len(parts) != 2 || len(strings.TrimSpace(parts[0])) != 64 {
			c.add("go-manifest", Error, "go_plugin_build_manifest: line %q is not sha256:path", line)
			return
		}
		manifest[strings.ReplaceAll(strings.TrimSpace(parts[1]), "\\", "/")] = strings.TrimSpace(parts[0])
	}
	if sourceDir == "" {
		c.add("go-manifest", OK, "go_plugin_build_manifest lists %d Go files", len(manifest))
		return
	}
	out, err := exec.Command("git", "-C", sourceDir, "ls-files", "-z", "--", "*.go").Output()
	if err != nil {
		c.add("go-manifest", Error, "listing the Go files of %s: %v", sourceDir, err)
		return
	}
	var problems []string
	n := 0
	for _, rel := range strings.Split(strings.TrimRight(string(out), "\x00"), "\x00") {
		if rel == "" {
			continue
		}
		n++
		sum, err := fileSHA256(filepath.Join(sourceDir, rel))
		switch {
		case err != nil:
			problems = append(problems, err.Error())
		case manifest[rel] == "":
			problems = append(problems, rel+" is not in the manifest")
		case manifest[rel] != sum:
			problems = append(problems, rel+" differs from the manifest")
		}
	}
	for rel := range manifest {
		if _, err := os.Stat(filepath.Join(sourceDir, rel)); err != nil {
			problems = append(problems, rel+" is in the manifest, not in the source")
		}
	}
	sort.Strings(problems)
	if len(problems) > 5 {
		problems = append(problems[:5], fmt.Sprintf("and %d more", len(problems)-5))
	}
	c.expect(len(problems) == 0, "go-manifest", fmt.Sprintf("go_plugin_build_manifest matches the %d Go files of the source", n),
		"go_plugin_build_manifest does not match the source (rebuild with scripts/build-backend.sh): %s", strings.Join(problems, "; "))
}

func fileSHA256(p string) (string, error) {
	f, err := os.Open(p)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// source checks the source tree beside the archive: package.json's version and license
// (packagejson, license) and the standard build tooling (buildtools).
func (c *checker) source(dir string, root *pluginJSON) {
	var pkg struct{ Version, License string }
	b, err := os.ReadFile(filepath.Join(dir, "package.json"))
	if err == nil {
		err = json.Unmarshal(b, &pkg)
	}
	if err != nil {
		c.add("packagejson", Error, "package.json: %v", err)
		return
	}
	c.expect(pkg.Version == root.Info.Version, "packagejson", "package.json version "+pkg.Version+" = plugin.json's",
		"package.json version %q differs from plugin.json's %q", pkg.Version, root.Info.Version)
	c.expect(pkg.License == "Apache-2.0", "license", "package.json declares Apache-2.0, as LICENSE", "package.json license %q is not Apache-2.0 (LICENSE is)", pkg.License)
	wp, _ := os.ReadFile(filepath.Join(dir, ".config", "webpack", "webpack.config.ts"))
	c.expect(strings.Contains(string(wp), "@grafana/create-plugin"), "buildtools", ".config/webpack/webpack.config.ts is create-plugin's",
		"the frontend is not built by create-plugin's .config/webpack/webpack.config.ts")
	mf, _ := os.ReadFile(filepath.Join(dir, "Magefile.go"))
	c.expect(strings.Contains(string(mf), "grafana-plugin-sdk-go/build"), "buildtools", "Magefile.go uses the SDK's build targets",
		"no Magefile.go using grafana-plugin-sdk-go/build at the source root")
}
