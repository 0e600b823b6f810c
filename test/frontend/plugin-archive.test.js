// The built plugin as Grafana installs it: dist/ packed into <id>-<version>.zip (one root directory
// named after the app's id) and checked against what Grafana's plugin validator documents
// (pkg/pluginarchive: plugin.json fields and ids, nested includes, logos, module.js and source maps,
// backend binaries for linux/darwin amd64/arm64 at 0755, the Go build manifest against this source
// tree, LICENSE, create-plugin's bundle). The checker's whole output goes to the test log.
// Needs the full build (scripts/build.sh all): scripts/test.sh runs it only then.
'use strict';
const { test } = require('node:test');
const assert = require('node:assert/strict');
const { spawnSync } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');

const ROOT = path.resolve(__dirname, '..', '..');
const GO = fs.existsSync('/usr/local/go/bin/go') ? '/usr/local/go/bin/go' : 'go';

function pluginarchive(...args) {
  const r = spawnSync(GO, ['run', './pkg/cmd/pluginarchive', ...args], {
    cwd: ROOT,
    encoding: 'utf8',
    timeout: 300000,
  });
  return { code: r.status, out: `${r.stdout}${r.stderr}` };
}

test('the packed plugin passes every offline check of the plugin validator', () => {
  const app = JSON.parse(fs.readFileSync(path.join(ROOT, 'dist', 'plugin.json'), 'utf8'));
  const zip = path.join(
    fs.mkdtempSync(path.join(os.tmpdir(), 'flowlens-archive-')),
    `${app.id}-${app.info.version}.zip`
  );
  const pack = pluginarchive('pack', '-out', zip);
  assert.equal(pack.code, 0, pack.out);
  const check = pluginarchive('check', '-source', '.', zip);
  console.log(check.out);
  assert.equal(check.code, 0, `the archive fails checks:\n${check.out}`);
  assert.match(check.out, /pluginarchive: \d+ checks, 0 errors/);
  // the checks that matter most ran, on this plugin's own parts
  for (const line of [
    'ok      archivename: the root directory is the plugin id',
    'ok      backendbinary: datasource/plugin.json: gpx_flowlens-clickhouse-datasource for linux_amd64, linux_arm64, darwin_amd64, darwin_arm64',
    'ok      binarypermissions: datasource/plugin.json: 4 binaries, each 0755',
    'ok      license: LICENSE: the Apache License 2.0, full text',
    'ok      license: package.json declares Apache-2.0, as LICENSE',
    "ok      buildtools: every module.js carries create-plugin's build banner",
  ]) {
    assert.ok(check.out.includes(line), `missing: ${line}`);
  }
  for (const inc of app.includes.filter((i) => i.type === 'panel' || i.type === 'datasource')) {
    assert.ok(
      check.out.includes(`ok      includesnested: ${inc.path} declared as a ${inc.type}`),
      `include ${inc.path}`
    );
  }
  // the bundled dashboards (an installed plugin has them): each declared, in the archive, a dashboard
  for (const inc of app.includes.filter((i) => i.type === 'dashboard')) {
    assert.match(
      check.out,
      new RegExp(`ok {6}includesdashboard: ${inc.path}: dashboard flowlens-[a-z-]+ \\(`),
      inc.path
    );
  }
  assert.ok(app.includes.filter((i) => i.type === 'dashboard').length >= 6, 'six bundled dashboards at least');
  assert.doesNotMatch(check.out, /includesdashboard: .* no include declares it/);
  assert.match(check.out, /ok {6}go-manifest: go_plugin_build_manifest matches the \d+ Go files of the source/);
  fs.rmSync(path.dirname(zip), { recursive: true, force: true });
});
