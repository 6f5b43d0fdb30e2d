#!/usr/bin/env node
/**
 * The `dockgate` command. Thin on purpose: it picks a subcommand and hands
 * over the rest of argv; each subcommand parses its own flags and returns an
 * exit code, so commands are testable without spawning a process.
 */

const USAGE = `usage: dockgate <command> [options]

commands:
  serve [--config FILE] [--listen HOST:PORT] [--upstream unix:///PATH] [--dev] [--check]
        (without --config: $DOCKGATE_CONFIG, else /etc/dockgate/dockgate.yaml)
        run the gateway (--dev: development setup with generated certificates;
        --check: check everything, print a summary or every problem, exit 0 or 1)
  certs init  [--dir certs] [--host NAME]... [--days N] [--ca-days N] [--force]
        a CA and a server certificate (SANs: every --host, localhost, 127.0.0.1)
  certs issue --cn NAME [--ou TEAM]... [--san-dns|--san-uri|--san-email V]... [--days N|--hours N] [--dir certs]
        a client bundle in DIR/clients/NAME, the layout DOCKER_CERT_PATH expects
  certs revoke (--cn NAME | --serial HEX) [--reason R]    certs list [--expiring 7d]
  certs crl [--days N | --hours N]    certs renew (--cn NAME | --server [--host NAME]...)
        revoke (republishes DIR/ca/crl.pem), list, refresh the CRL, reissue with the same names
  policy check FILE...
        validate policies: every problem as FILE:LINE:COL CODE message; exit 1 on errors
  policy explain --policy FILE --subject "CN=NAME,OU=TEAM" [--body FILE.json] METHOD PATH
        how the policy judges one request; exit 0 allow, 3 deny
  audit verify [--partial-start] [--sessions DIR] FILE...
        check audit files (rotated, gzipped, several workers') are complete and unedited, and the
        session recordings they name are the files recorded; exit 0 intact, 1 not
  audit report FILE... (--html OUT.html | --text) [--since WHEN] [--until WHEN] [--config FILE]
        the auditor's report: one self-contained HTML page and/or a text summary
        (verdict, requests and refusals per team, certificates, sessions and recordings)
  audit replay [--config FILE] [--speed N] [--max-idle S] ID|FILE.cast
        play a session recording (audit level session) in the terminal, as the user saw it
  audit schema
        print the audit record JSON Schema
  owners list|orphans [--config FILE | --upstream unix:///PATH] [--json]
        who owns each container, volume, network and image (team isolation);
        orphans: those no team owns (exit 1 when there are any)
  scan [--config FILE] [--json] [--audit FILE]... [--label KEY[=VALUE]]...
        containers, volumes and networks today's policy would refuse for their owner
        team, and those created around the gateway; exit 0 none, 1 found, 2 error
`

async function main (argv: string[]): Promise<number> {
  const [command, ...rest] = argv
  switch (command) {
    // Each subcommand is loaded when it runs: `certs` or `policy` need not load fastify.
    case 'serve': return await (await import('./cli/serve.js')).runServeCommand(rest)
    case 'certs': return await (await import('./cli/certs.js')).runCertsCommand(rest)
    case 'policy': return await (await import('./cli/policy.js')).runPolicyCommand(rest)
    case 'audit': return await (await import('./cli/audit.js')).runAuditCommand(rest)
    case 'owners': return await (await import('./cli/owners.js')).runOwnersCommand(rest)
    case 'scan': return await (await import('./cli/scan.js')).runScanCommand(rest)
    case undefined:
    case 'help':
    case '--help':
    case '-h':
      process.stdout.write(USAGE)
      return command === undefined ? 2 : 0
    default:
      process.stderr.write(`dockgate: unknown command '${command}'\n${USAGE}`)
      return 2
  }
}

main(process.argv.slice(2)).then(
  (code) => { if (code !== -1) process.exitCode = code },
  (err: unknown) => {
    process.stderr.write(`dockgate: ${err instanceof Error ? err.stack ?? err.message : String(err)}\n`)
    process.exitCode = 1
  })
