import { defineConfig } from 'eslint/config';
import baseConfig from './.config/eslint.config.mjs';

export default defineConfig([
  {
    // The plugin frontend and the Node agent (its TypeScript: src/agent, demo, scripts, tests, benches) are
    // linted alike; Go has its own tooling, and the agent side's plain-JS scripts are left to prettier.
    ignores: [
      '**/node_modules/',
      '**/dist/',
      '**/build/',
      '**/coverage/',
      '**/.eslintcache',
      'pkg/**',
      'scripts/**/*.js',
      'bench/**/*.js',
      'demo/**/*.js',
      'test/agent/**/*.js',
      'test/e2e/**/*.js',
      '.config/**',
    ],
  },
  ...baseConfig,
  {
    // the agent's own compiler settings (Node, CommonJS): tsconfig.json is the frontend's
    files: ['src/agent/**/*.ts', 'src/shared/**/*.ts', 'demo/**/*.ts', 'bench/**/*.ts', 'scripts/**/*.ts', 'test/agent/**/*.ts', 'test/e2e/**/*.ts'],
    languageOptions: { parserOptions: { project: './tsconfig.agent.json' } },
  },
]);
