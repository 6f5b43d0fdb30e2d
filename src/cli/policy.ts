/**
 * `dockgate policy check|explain`: validate policies without starting
 * anything, and show how a policy judges one request.
 *
 * Exit codes: check 0 (no errors; warnings allowed) or 1; explain 0 when
 * the request would be allowed, 3 when refused (or only forwarded by audit
 * mode), 1 when the policy has errors; both 2 for usage errors.
 */
import { readFile } from 'node:fs/promises'
import { parseArgs } from 'node:util'
import { canonicalize, checkPolicy, explain, principalFromSubject, socketPrincipal, type Policy } from '../policy/index.js'
import { formatDiagnostic, type Diagnostic } from '../shared/diagnostics.js'
import { formatExplanation } from './explain-format.js'

const USAGE = `usage: dockgate policy check FILE...
       dockgate policy explain --policy FILE --subject "CN=NAME,OU=TEAM" [--san-dns NAME]... [--san-uri URI]...
                               [--san-email ADDR]... [--body FILE.json] [--content-type TYPE] METHOD PATH
       dockgate policy explain --policy FILE --socket NAME [--body FILE.json] [--content-type TYPE] METHOD PATH
`

/** Exit code of explain for a request the policy refuses. */
export const EXIT_DENY = 3

/** Runs `dockgate policy ...` with the arguments after `policy`; resolves with the exit code. */
export async function runPolicyCommand (argv: string[]): Promise<number> {
  const [subcommand, ...rest] = argv
  switch (subcommand) {
    case 'check': return await runCheck(rest)
    case 'explain': return await runExplain(rest)
    case 'help':
    case '--help':
    case '-h':
      process.stdout.write(USAGE)
      return 0
    default:
      return usageError(subcommand === undefined ? 'policy needs a subcommand' : `unknown policy subcommand '${subcommand}'`)
  }
}

async function runCheck (files: string[]): Promise<number> {
  if (files.length === 0) return usageError('policy check needs at least one FILE')
  if (files.some((f) => f.startsWith('-'))) return usageError(`unknown option '${files.find((f) => f.startsWith('-')) ?? ''}'`)
  let errors = 0
  let warnings = 0
  for (const file of files) {
    const diagnostics = await checkFile(file)
    for (const d of diagnostics) process.stdout.write(formatDiagnostic(d) + '\n')
    warnings += diagnostics.filter((d) => d.severity === 'warning').length
    errors += diagnostics.filter((d) => d.severity !== 'warning').length
  }
  process.stderr.write(`dockgate: checked ${files.length} file(s): ${errors} error(s), ${warnings} warning(s)\n`)
  return errors > 0 ? 1 : 0
}

async function checkFile (file: string): Promise<readonly Diagnostic[]> {
  const text = await readFile(file, 'utf8').catch((err: Error) => err)
  if (text instanceof Error) return [{ file, line: 0, col: 0, code: 'DG_FILE_UNREADABLE', message: `cannot read policy: ${text.message}` }]
  return checkPolicy({ file, text }).diagnostics
}

const EXPLAIN_OPTIONS = {
  'policy': { type: 'string' },
  'subject': { type: 'string' },
  'socket': { type: 'string' },
  'san-dns': { type: 'string', multiple: true, default: [] as string[] },
  'san-uri': { type: 'string', multiple: true, default: [] as string[] },
  'san-email': { type: 'string', multiple: true, default: [] as string[] },
  'body': { type: 'string' },
  'content-type': { type: 'string' }
} as const

async function runExplain (argv: string[]): Promise<number> {
  let parsed
  try {
    parsed = parseArgs({ args: argv, options: EXPLAIN_OPTIONS, allowPositionals: true, strict: true })
  } catch (err) {
    return usageError((err as Error).message)
  }
  const { values, positionals } = parsed
  if (values.policy === undefined) return usageError('explain needs --policy FILE')
  if ((values.subject === undefined) === (values.socket === undefined)) return usageError('explain needs --subject "CN=NAME,OU=TEAM" (a certificate) or --socket NAME (a socket listener\'s identity), not both')
  if (positionals.length !== 2) return usageError('explain needs METHOD and PATH, like POST /v1.41/containers/create')
  const [method = '', target = ''] = positionals
  const principal = values.socket !== undefined
    ? socketPrincipal(values.socket)
    : principalFromSubject(values.subject ?? '', { dns: values['san-dns'], uri: values['san-uri'], email: values['san-email'] })
  if (typeof principal === 'string') return usageError(principal)
  const policy = await loadOrReport(values.policy)
  if (policy === null) return 1
  const canonical = canonicalize(target, method)
  if (!canonical.ok) {
    process.stdout.write(`decision: deny (400): request target is not canonical: ${canonical.reason}; dockgate never forwards it\n`)
    return EXIT_DENY
  }
  const body = values.body === undefined ? null : await readFile(values.body).catch((err: Error) => err)
  if (body instanceof Error) {
    process.stderr.write(`dockgate: cannot read --body file: ${body.message}\n`)
    return 1
  }
  const contentTypes = values['content-type'] !== undefined ? [values['content-type']] : body === null ? [] : ['application/json']
  const explanation = explain(policy, { principal, method, target: canonical.target, contentTypes }, body)
  process.stdout.write(formatExplanation(policy, explanation, values.socket === undefined ? values.subject ?? '' : `socket ${values.socket}`))
  return explanation.verdict.outcome === 'allow' ? 0 : EXIT_DENY
}

async function loadOrReport (file: string): Promise<Policy | null> {
  const text = await readFile(file, 'utf8').catch((err: Error) => err)
  if (text instanceof Error) {
    process.stderr.write(`dockgate: cannot read policy ${file}: ${text.message}\n`)
    return null
  }
  const checked = checkPolicy({ file, text })
  if (checked.policy !== null) return checked.policy
  for (const d of checked.diagnostics) process.stderr.write(formatDiagnostic(d) + '\n')
  process.stderr.write('dockgate: the policy has errors; run dockgate policy check\n')
  return null
}

function usageError (message: string): number {
  process.stderr.write(`dockgate: ${message}\n${USAGE}`)
  return 2
}
