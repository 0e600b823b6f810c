import fs from 'fs';
import path from 'path';
import { getPluginJson, hasReadme } from './utils.ts';
import { SOURCE_DIR } from './constants.ts';

// FlowLens: the repository also holds the Node agent under src/agent and the shared schema under
// src/shared; only plugin files are copied into dist/. LICENSE and CHANGELOG are optional.
const pluginJson = getPluginJson();
const logoPaths: string[] = Array.from(new Set([pluginJson.info?.logos?.large, pluginJson.info?.logos?.small])).filter(
  Boolean
);
const screenshotPaths: string[] = pluginJson.info?.screenshots?.map((s: { path: string }) => s.path) || [];
const hasSrcChangelog = fs.existsSync(path.resolve(process.cwd(), SOURCE_DIR, 'CHANGELOG.md'));
const notAgent = { ignore: ['**/agent/**', '**/shared/**'] };

export const copyFilePatterns = [
  // If src/README.md exists use it; otherwise the root README
  // To `compiler.options.output`
  { from: hasReadme() ? 'README.md' : '../README.md', to: '.', force: true, noErrorOnMissing: true },
  { from: 'plugin.json', to: '.' },
  { from: '../LICENSE', to: '.', noErrorOnMissing: true },
  { from: hasSrcChangelog ? 'CHANGELOG.md' : '../CHANGELOG.md', to: '.', force: true, noErrorOnMissing: true },
  { from: '**/*.json', to: '.', globOptions: notAgent },
  { from: '**/img/*.svg', to: '.', globOptions: notAgent, noErrorOnMissing: true },
  { from: '**/query_help.md', to: '.', noErrorOnMissing: true },
  ...logoPaths.map((logoPath) => ({
    from: logoPath,
    to: logoPath,
  })),
  ...screenshotPaths.map((screenshotPath) => ({
    from: screenshotPath,
    to: screenshotPath,
  })),
];
