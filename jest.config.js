// force timezone to UTC so snapshot-ish assertions do not depend on the machine
process.env.TZ = 'UTC';

const fs = require('fs');
const path = require('path');
const base = require('./.config/jest.config');
const { grafanaESModules, nodeModulesToTransform } = require('./.config/jest/utils');

// @grafana/* 13.2 pull in many ESM-only packages ("type": "module"); transform all of them rather than
// keeping a hand list in step with Grafana's dependency tree.
function esmOnlyPackages(dir = path.join(__dirname, 'node_modules')) {
  const names = [];
  for (const entry of fs.readdirSync(dir)) {
    if (entry.startsWith('.')) {
      continue;
    }
    const pkgs = entry.startsWith('@') ? fs.readdirSync(path.join(dir, entry)).map((n) => `${entry}/${n}`) : [entry];
    for (const name of pkgs) {
      try {
        const pj = JSON.parse(fs.readFileSync(path.join(dir, name, 'package.json'), 'utf8'));
        if (pj.type === 'module') {
          names.push(name);
        }
      } catch {
        // not a package
      }
    }
  }
  return names;
}
const extraESModules = esmOnlyPackages();

module.exports = {
  // Jest configuration provided by Grafana scaffolding
  ...base,
  // The agent (src/agent) has its own Node test runner; jest only owns the plugin frontend.
  transform: {
    ...base.transform,
    // Grafana 13's dependencies (d3-*) ship .mjs; run them through the same SWC transform.
    '^.+\\.mjs$': base.transform['^.+\\.(t|j)sx?$'],
  },
  transformIgnorePatterns: [nodeModulesToTransform([...grafanaESModules, ...extraESModules])],
  // @grafana/ui's comboboxes take seconds per typed word on a loaded 2-core machine: a timeout is for a hang
  testTimeout: 30000,
  setupFiles: ['<rootDir>/test/frontend/jest-polyfills.js'],
  setupFilesAfterEnv: ['<rootDir>/.config/jest-setup.js', '<rootDir>/test/frontend/jest-dom-stubs.js'],
  testPathIgnorePatterns: ['/node_modules/', '<rootDir>/src/agent/', '<rootDir>/dist/', '<rootDir>/build/'],
};
