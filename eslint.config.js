// Lint runs as part of `npm test`; type-aware rules catch floating promises,
// which in a proxy mean unhandled stream errors and leaked sockets.
import js from '@eslint/js'
import tseslint from 'typescript-eslint'

// Layers, top to bottom: cli -> runtime (one process and its lifecycle) ->
// gateway (per request) and reload -> domain modules -> shared. A layer
// imports only the layers below it (reload may also use the gateway's
// types: it swaps state into it); a domain module imports only itself and
// src/shared; the policy core is pure.
const DOMAIN = ['tls', 'proxy', 'audit', 'config', 'certs', 'limits', 'metrics', 'policy', 'ownership', 'local']
/** An import from `up` (the relative prefix to src/) into anything but `allowed`. */
const ONLY = (up, allowed, what) => ({ regex: `^${up}(?!(${allowed.join('|')})/)`, message: `${what} may import only ${allowed.join(', ')}` })
const IMPURE = { regex: '^(fastify|pino|@fastify/.*|node:(net|tls|http|https|fs|fs/promises|child_process))$', message: 'the policy core is pure: no framework, logger, sockets or files' }
const restrict = (...patterns) => ({ 'no-restricted-imports': ['error', { patterns }] })

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
  // Layers (see the top of this file).
  { files: ['src/shared/*.ts'], rules: restrict(ONLY('\\.\\./', ['shared'], 'src/shared')) },
  { files: [`src/{${DOMAIN.filter((m) => m !== 'policy').join(',')}}/*.ts`], rules: restrict(ONLY('\\.\\./', ['shared'], 'a domain module')) },
  { files: ['src/policy/*.ts'], rules: restrict(ONLY('\\.\\./', ['shared'], 'the policy core'), IMPURE) },
  { files: ['src/policy/body/*.ts'], rules: restrict(ONLY('\\.\\./\\.\\./', ['shared'], 'the policy core'), IMPURE) },
  { files: ['src/gateway/*.ts'], rules: restrict(ONLY('\\.\\./', [...DOMAIN, 'shared'], 'the gateway')) },
  { files: ['src/reload/*.ts'], rules: restrict(ONLY('\\.\\./', [...DOMAIN, 'shared', 'gateway'], 'reload')) },
  { files: ['src/runtime/*.ts'], rules: restrict(ONLY('\\.\\./', [...DOMAIN, 'shared', 'gateway', 'reload'], 'the runtime')) },
  {
    files: ['eslint.config.js', 'bench/**/*.mjs'],
    ...tseslint.configs.disableTypeChecked
  },
  {
    files: ['bench/**/*.mjs'],
    languageOptions: { globals: { process: 'readonly', console: 'readonly', setTimeout: 'readonly', URL: 'readonly', performance: 'readonly' } }
  }
)
