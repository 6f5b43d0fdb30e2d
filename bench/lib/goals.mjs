// The goals of issue 12, each with its text as the issue states it and a
// test of the measured figure. Printed beside every figure as PASS or MISS;
// never asserted in `npm test` (absolute speed depends on the machine).

/** [goal text, test(value), unit] by figure id. */
export const GOALS = {
  'small.16': ['>= 0.9x the bare Node forwarder at 16 connections', (v) => v >= 0.9, 'x bare'],
  'small.1': ['>= 0.85x the bare Node forwarder at 1 connection', (v) => v >= 0.85, 'x bare'],
  'p50.added': ['added p50 over the bare forwarder <= 0.05 ms (1 connection)', (v) => v <= 0.05, 'ms'],
  // Not a goal of its own: the part of the added p50 that is dockgate's own
  // code (in-process, no sockets, lib/own-work.mjs) must fit in it first.
  'own.work': ['dockgate\'s own work within the added-p50 goal (<= 50 us, in-process)', (v) => v <= 50, 'us'],
  'connections': ['new connections >= 0.9x dockerd\'s own TLS', (v) => v >= 0.9, 'x dockerd TLS'],
  'transfer.haproxy': ['download and upload >= 1.0x HAProxy with mTLS', (v) => v >= 1.0, 'x HAProxy'],
  'transfer.dockerd': ['aiming at >= 0.9x dockerd\'s own TLS', (v) => v >= 0.9, 'x dockerd TLS'],
  'rss.idle': ['RSS <= 80 MB idle', (v) => v <= 80, 'MB'],
  'rss.streams': ['RSS <= 200 MB with 1,000 open streams', (v) => v <= 200, 'MB'],
  // "Flat": the peak during the upload is within 32 MB of before it (a few
  // stream buffers), whatever the size of the upload.
  'rss.upload': ['RSS flat during a 1 GiB upload (peak within 32 MB of before)', (v) => v <= 32, 'MB growth'],
  'decision.1000': ['one decision <= 2 microseconds at 1,000 rules', (v) => v <= 2, 'us'],
  // "Nearly flat": 10,000 rules cost at most 1.5 times what 1,000 do.
  'decision.flat': ['nearly flat to 10,000 rules (at most 1.5x the cost at 1,000)', (v) => v <= 1.5, 'x'],
  'workers': ['throughput that grows with cores (workers: 2 over workers: 1)', (v) => v > 1.0, 'x']
}

/** One line: figure, value, goal, PASS/MISS; also collected into `verdicts`. */
export function verdict (verdicts, id, label, value) {
  const [text, test, unit] = GOALS[id]
  const pass = test(value)
  verdicts.push({ id, label, value, unit, goal: text, pass })
  return `| ${label} | ${value.toFixed(unit === 'us' || unit === 'ms' ? 3 : 2)} ${unit} | ${text} | ${pass ? 'PASS' : 'MISS'} |`
}
