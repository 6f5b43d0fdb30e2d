// Lint runs as part of `npm test`; type-aware rules catch floating promises,
// which in a proxy mean unhandled stream errors and leaked sockets.
import js from '@eslint/js'
import tseslint from 'typescript-eslint'

/** An import that leaves its module for anything but src/shared; `up` is the relative prefix to src/. */
const CROSS_MODULE = (up) => ({ regex: `${up}(?!shared/)`, message: 'only src/app wires modules together; import from src/shared or your own module' })
const IMPURE = { regex: '^(fastify|pino|@fastify/.*|node:(net|tls|http|https|fs|fs/promises|child_process))$', message: 'the policy core is pure: no framework, logger, sockets or files' }

export default tseslint.config(
  { ignores: ['dist/', 'node_modules/', 'certs/', 'coverage/'] },
  js.configs.recommended,
  ...tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: {
      parserOptions: { projectService: { allowDefaultProject: ['eslint.config.js', 'bench/*.mjs'] }, tsconfigRootDir: import.meta.dirname }
    },
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_' }],
      '@typescript-eslint/no-floating-promises': 'error',
      'max-lines': ['error', { max: 320, skipBlankLines: true, skipComments: true }],
      'eqeqeq': ['error', 'always']
    }
  },
  // Module boundaries: only src/app (and the CLI entry) wire modules
  // together; the others may import only themselves and src/shared. The
  // policy core is pure: no framework, logger, sockets or files.
  {
    files: ['src/{tls,proxy,audit,config,certs,limits,metrics,admin,shared}/*.ts'],
    rules: { 'no-restricted-imports': ['error', { patterns: [CROSS_MODULE('^\\.\\./')] }] }
  },
  {
    files: ['src/policy/*.ts'],
    rules: { 'no-restricted-imports': ['error', { patterns: [CROSS_MODULE('^\\.\\./'), IMPURE] }] }
  },
  {
    files: ['src/policy/body/*.ts'],
    rules: { 'no-restricted-imports': ['error', { patterns: [CROSS_MODULE('^\\.\\./\\.\\./'), IMPURE] }] }
  },
  {
    files: ['eslint.config.js', 'bench/**/*.mjs'],
    ...tseslint.configs.disableTypeChecked
  },
  {
    files: ['bench/**/*.mjs'],
    languageOptions: { globals: { process: 'readonly', console: 'readonly', setTimeout: 'readonly', URL: 'readonly', performance: 'readonly' } }
  }
)
