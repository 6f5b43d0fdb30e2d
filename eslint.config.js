// Lint runs as part of `npm test`; type-aware rules catch floating promises,
// which in a proxy mean unhandled stream errors and leaked sockets.
import js from '@eslint/js'
import tseslint from 'typescript-eslint'

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
      'max-lines': ['warn', { max: 320, skipBlankLines: true, skipComments: true }],
      'eqeqeq': ['error', 'always']
    }
  },
  {
    files: ['eslint.config.js', 'bench/**/*.mjs'],
    ...tseslint.configs.disableTypeChecked
  },
  {
    files: ['bench/**/*.mjs'],
    languageOptions: { globals: { process: 'readonly', console: 'readonly', setTimeout: 'readonly' } }
  }
)
