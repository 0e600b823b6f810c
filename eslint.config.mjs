import { defineConfig } from 'eslint/config';
import baseConfig from './.config/eslint.config.mjs';

export default defineConfig([
  {
    // The Node agent, scripts and Go code have their own tooling; this config owns the plugin frontend.
    ignores: [
      '**/node_modules/',
      '**/dist/',
      '**/build/',
      '**/coverage/',
      '**/.eslintcache',
      'src/agent/**',
      'scripts/**',
      'test/agent/**',
      'test/e2e/**',
      'bench/**',
      'pkg/**',
      '.config/**',
    ],
  },
  ...baseConfig,
]);
