// force timezone to UTC so snapshot-ish assertions do not depend on the machine
process.env.TZ = 'UTC';

const base = require('./.config/jest.config');

module.exports = {
  // Jest configuration provided by Grafana scaffolding
  ...base,
  // The agent (src/agent) has its own Node test runner; jest only owns the plugin frontend.
  setupFilesAfterEnv: ['<rootDir>/.config/jest-setup.js'],
  testPathIgnorePatterns: ['/node_modules/', '<rootDir>/src/agent/', '<rootDir>/dist/', '<rootDir>/build/'],
};
