#!/usr/bin/env node
// What deciding ownership costs per request: the owner index's lookup
// (memory only, as for every object the daemon already announced) by full
// id, by name and by id prefix, with 100, 1,000 and 10,000 containers held
// by 10 teams, for a team that owns the object and for one that must be
// told it is missing. A request of an ownership team makes one lookup per
// object it names; it costs no daemon round trip unless the index has
// never heard of the reference.
//
//   npm run build && node bench/owners.mjs [--lookups 200000]
import { randomBytes } from 'node:crypto'
import { parseArgs } from 'node:util'
import { OwnerStore } from '../dist/ownership/store.js'

const { values: args } = parseArgs({ options: { lookups: { type: 'string', default: '200000' } } })
const lookups = Number(args.lookups)
const teams = Array.from({ length: 10 }, (_, i) => `team-${i}`)
const scopeOf = (team) => ({ owner: team, visible: [team] })

function fill (count) {
  const store = new OwnerStore()
  const objects = []
  for (let i = 0; i < count; i++) {
    const object = { id: randomBytes(32).toString('hex'), names: [`/app-${i}`], owner: teams[i % teams.length] }
    store.put('container', object)
    objects.push(object)
  }
  return { store, objects }
}

function nsPerLookup (store, refs, scopes) {
  let sink = 0
  for (let i = 0; i < 10_000; i++) sink += store.resolve('container', refs[i % refs.length], scopes[i % scopes.length]).kind.length
  const start = process.hrtime.bigint()
  for (let i = 0; i < lookups; i++) sink += store.resolve('container', refs[i % refs.length], scopes[i % scopes.length]).kind.length
  const ns = Number(process.hrtime.bigint() - start) / lookups
  if (sink === 0) throw new Error('unreachable')
  return ns
}

console.log(`owner index lookup, ns per lookup (median of 3; ${lookups} lookups each)`)
console.log('| containers | by id, own | by name, own | by 12-char prefix, own | by name, another team\'s (missing) |')
console.log('|---|---|---|---|---|')
for (const count of [100, 1_000, 10_000]) {
  const { store, objects } = fill(count)
  const own = objects.map((o) => scopeOf(o.owner))
  const other = objects.map((o) => scopeOf(teams[(teams.indexOf(o.owner) + 1) % teams.length]))
  const median = (f) => [f(), f(), f()].sort((a, b) => a - b)[1]
  const row = [
    median(() => nsPerLookup(store, objects.map((o) => o.id), own)),
    median(() => nsPerLookup(store, objects.map((o) => o.names[0].slice(1)), own)),
    median(() => nsPerLookup(store, objects.map((o) => o.id.slice(0, 12)), own)),
    median(() => nsPerLookup(store, objects.map((o) => o.names[0].slice(1)), other))
  ]
  console.log(`| ${count} | ${row.map((ns) => ns.toFixed(0)).join(' | ')} |`)
}
