// One lint config for the whole repo. Besides the usual rules it enforces two architecture
// rules that a reviewer would otherwise have to catch by eye: the import direction between
// packages, and that pure cores never read the clock or the random source themselves.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

const forbidPackages = (names, why) => ({
  'no-restricted-imports': [
    'error',
    {
      patterns: names.map((n) => ({ group: [n, `${n}/*`], message: why })),
    },
  ],
});

// Folders whose code must take `now` and `random` as arguments (DESIGN.md habit 6).
const pureFolders = [
  'packages/proxy/src/routing/**',
  'packages/proxy/src/lb/**',
  'packages/proxy/src/outlier/**',
  'packages/proxy/src/circuit-breaker/**',
  'packages/proxy/src/retry-budget/**',
  'packages/proxy/src/compile/**',
  'packages/proxy/src/filters/**',
  'packages/proxy/src/explain/**',
  'packages/proxy/src/telemetry/tracing/propagation.ts',
  'packages/control-plane/src/translate/**',
  'packages/model/src/**',
];

export default tseslint.config(
  {
    ignores: ['**/dist/**', '**/node_modules/**', 'test/dist/**', 'bench/results/**', '.weft/**'],
  },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: {
      globals: {
        process: 'readonly',
        console: 'readonly',
        setTimeout: 'readonly',
        clearTimeout: 'readonly',
        setInterval: 'readonly',
        clearInterval: 'readonly',
        setImmediate: 'readonly',
        Buffer: 'readonly',
        URL: 'readonly',
        AbortController: 'readonly',
        AbortSignal: 'readonly',
        TextEncoder: 'readonly',
        TextDecoder: 'readonly',
        queueMicrotask: 'readonly',
        structuredClone: 'readonly',
        fetch: 'readonly',
      },
    },
    rules: {
      '@typescript-eslint/no-unused-vars': [
        'error',
        { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrors: 'none' },
      ],
      '@typescript-eslint/consistent-type-imports': 'error',
      '@typescript-eslint/no-explicit-any': 'error',
      eqeqeq: ['error', 'always', { null: 'ignore' }],
    },
  },
  {
    files: ['packages/model/src/**'],
    rules: forbidPackages(
      ['@weft/control-plane', '@weft/proxy', '@weft/cli', '@weft/testkit'],
      'model holds contracts only and depends on nothing of ours',
    ),
  },
  {
    files: ['packages/proxy/src/**'],
    rules: forbidPackages(
      ['@weft/control-plane', '@weft/cli'],
      'the proxy never reaches into the control plane: it only sees snapshots (DESIGN.md)',
    ),
  },
  {
    files: ['packages/control-plane/src/**'],
    rules: forbidPackages(
      ['@weft/proxy', '@weft/cli'],
      'the control plane never imports the proxy (DESIGN.md)',
    ),
  },
  {
    files: ['packages/testkit/src/**'],
    rules: forbidPackages(
      ['@weft/control-plane', '@weft/proxy', '@weft/cli'],
      'testkit fakes the other packages, it does not import them',
    ),
  },
  {
    files: pureFolders,
    ignores: ['**/*.test.ts'],
    rules: {
      'no-restricted-properties': [
        'error',
        { object: 'Date', property: 'now', message: 'pure cores take `now` as an argument' },
        { object: 'Math', property: 'random', message: 'pure cores take `random` as an argument' },
        { object: 'performance', property: 'now', message: 'pure cores take `now` as an argument' },
      ],
      'no-restricted-syntax': [
        'error',
        {
          selector: "NewExpression[callee.name='Date'][arguments.length=0]",
          message: 'pure cores take `now` as an argument',
        },
      ],
    },
  },
);
