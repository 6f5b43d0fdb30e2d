// `dockgate certs ...` as a person types it: exit codes, what is printed,
// and that mistakes are caught before anything is written.
import { X509Certificate } from 'node:crypto'
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { runCertsCommand } from '../../../src/cli/certs.js'

let dir: string
let stdout: string
let stderr: string

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'dockgate-cli-'))
  stdout = ''
  stderr = ''
  vi.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => { stdout += String(chunk); return true })
  vi.spyOn(process.stderr, 'write').mockImplementation((chunk: string | Uint8Array) => { stderr += String(chunk); return true })
})

afterEach(() => {
  vi.restoreAllMocks()
  rmSync(dir, { recursive: true, force: true })
})

async function certs (...args: string[]): Promise<number> {
  stdout = ''
  stderr = ''
  return await runCertsCommand(args)
}

describe('certs init', () => {
  it('creates CA and server certificate and lists what it wrote', async () => {
    expect(await certs('init', '--dir', dir, '--host', 'docker.example.com', '--host', '10.1.2.3')).toBe(0)
    expect(stdout).toContain(`wrote ${join(dir, 'ca', 'ca.pem')}`)
    expect(stdout).toContain(`wrote ${join(dir, 'server', 'key.pem')}`)
    expect(stdout).toContain('for: docker.example.com, 10.1.2.3, localhost, 127.0.0.1')
    expect(stderr).toBe('')
  })

  it('applies --days to the server certificate and --ca-days to the CA', async () => {
    expect(await certs('init', '--dir', dir, '--days', '10', '--ca-days', '20')).toBe(0)
    const daysLeft = (file: string[]): number =>
      Math.round((Date.parse(new X509Certificate(readFileSync(join(dir, ...file))).validTo) - Date.now()) / 86_400_000)
    expect(daysLeft(['server', 'cert.pem'])).toBe(10)
    expect(daysLeft(['ca', 'ca.pem'])).toBe(20)
  })

  it('refuses to replace an existing CA (exit 1) unless --force, and warns when it does', async () => {
    await certs('init', '--dir', dir)
    expect(await certs('init', '--dir', dir)).toBe(1)
    expect(stderr).toBe(`dockgate: CA already exists at ${join(dir, 'ca')}; use --force to replace it (every issued certificate stops working)\n`)
    expect(await certs('init', '--dir', dir, '--force')).toBe(0)
    expect(stdout).toMatch(new RegExp(`^moved the previous CA \\(its key, index and CRL\\) to ${join(dir, 'ca')}\\.replaced-\\d{8}T\\d{6}Z; nothing was deleted$`, 'm'))
    expect(stdout).toContain('replaced the previous CA')
  })

  it('uses ./certs by default', async () => {
    const cwd = process.cwd()
    process.chdir(dir)
    try {
      expect(await certs('issue', '--cn', 'alice')).toBe(1)
      expect(stderr).toBe('dockgate: no CA in certs/ca; run `dockgate certs init` first\n')
      expect(await certs('init')).toBe(0)
      expect(existsSync(join(dir, 'certs', 'ca', 'ca.pem'))).toBe(true)
    } finally {
      process.chdir(cwd)
    }
  })
})

describe('certs issue', () => {
  beforeEach(async () => { await certs('init', '--dir', dir) })

  it('writes the bundle and prints the lines that point the docker CLI at it', async () => {
    expect(await certs('issue', '--cn', 'alice', '--ou', 'platform', '--ou', 'ops', '--dir', dir)).toBe(0)
    const bundle = join(dir, 'clients', 'alice')
    expect(readdirSync(bundle).sort()).toEqual(['ca.pem', 'cert.pem', 'key.pem'])
    expect(stdout).toContain(`wrote client bundle ${bundle}`)
    expect(stdout).toContain('subject CN=alice, OU=platform, OU=ops')
    expect(stdout).toContain(`export DOCKER_CERT_PATH=${resolve(bundle)}\n`)
    expect(stdout).toContain('export DOCKER_TLS_VERIFY=1')
  })

  it('quotes a path with spaces so the export line can be pasted', async () => {
    const spaced = join(dir, 'my certs')
    await certs('init', '--dir', spaced)
    expect(await certs('issue', '--cn', 'alice', '--dir', spaced)).toBe(0)
    expect(stdout).toContain(`export DOCKER_CERT_PATH='${resolve(spaced, 'clients', 'alice')}'\n`)
  })

  it('says when it replaces an existing bundle', async () => {
    await certs('issue', '--cn', 'alice', '--dir', dir)
    expect(await certs('issue', '--cn', 'alice', '--dir', dir)).toBe(0)
    expect(stdout).toMatch(/^replaced client bundle /)
  })

  it('defaults to 90 days', async () => {
    await certs('issue', '--cn', 'alice', '--dir', dir)
    const cert = new X509Certificate(readFileSync(join(dir, 'clients', 'alice', 'cert.pem')))
    expect(Math.round((Date.parse(cert.validTo) - Date.now()) / 86_400_000)).toBe(90)
  })

  it('fails with exit 1 and the fix when the directory has no CA', async () => {
    const empty = join(dir, 'elsewhere')
    expect(await certs('issue', '--cn', 'alice', '--dir', empty)).toBe(1)
    expect(stderr).toBe(`dockgate: no CA in ${join(empty, 'ca')}; run \`dockgate certs init --dir ${empty}\` first\n`)
  })
})

describe('usage errors exit 2 with the usage text and write nothing', () => {
  it.each([
    [['init', '--bogus'], /Unknown option '--bogus'/],
    [['init', 'extra'], /positional/],
    [['init', '--cn', 'alice'], /Unknown option '--cn'/],
    [['init', '--days', '0'], /--days must be a positive integer/],
    [['init', '--days', '1.5'], /--days must be a positive integer/],
    [['init', '--ca-days', 'ten'], /--ca-days must be a positive integer/],
    [['init', '--days'], /argument missing/],
    [['init', '--host', 'https://docker.example.com'], /not a DNS name or an IP address/],
    [['issue'], /certs issue needs --cn NAME/],
    [['issue', '--cn', '../../etc'], /cannot be used as a client name/],
    [['issue', '--cn', 'alice', '--ou', ''], /OU '' must be 1 to 64 characters/],
    [['rotate'], /unknown certs subcommand 'rotate'/],
    [[], /certs needs a subcommand/]
  ])('%j', async (args, message) => {
    // --dir goes right after the subcommand so a flag missing its value stays last.
    const withDir = args.length > 0 ? [args[0] ?? '', '--dir', join(dir, 'new'), ...args.slice(1)] : args
    expect(await certs(...withDir)).toBe(2)
    expect(stderr).toMatch(/^dockgate: /)
    expect(stderr).toMatch(message)
    expect(stderr).toContain('usage: dockgate certs init')
    expect(existsSync(join(dir, 'new'))).toBe(false)
  })

  it('prints usage to stdout and exits 0 for --help', async () => {
    expect(await certs('--help')).toBe(0)
    expect(stdout).toContain('dockgate certs issue  --cn NAME')
    for (const command of ['revoke', 'list', 'crl', 'renew']) expect(stdout).toContain(`dockgate certs ${command} `)
  })
})
