/**
 * The source key per-address limits count under. IPv4 addresses (also
 * IPv4-mapped IPv6 ones) count one by one; IPv6 addresses count by their
 * /64 prefix, because a single host is routinely given a whole /64 and
 * could otherwise open connections from as many addresses as it likes.
 * Pure; anything that is not an IP address is its own key.
 */
import { isIPv4, isIPv6 } from 'node:net'

/** The per-address limit key of `address` as Node reports a socket's remote address. */
export function addressKey (address: string): string {
  const mapped = /^::ffff:(\d{1,3}(?:\.\d{1,3}){3})$/i.exec(address)
  if (mapped?.[1] !== undefined) return mapped[1]
  if (isIPv4(address) || !isIPv6(address)) return address
  return `${expandIPv6(address).slice(0, 4).join(':')}::/64`
}

// The eight 16-bit groups of an IPv6 address, '::' expanded, without
// leading zeros, so every spelling of one prefix gives the same key.
function expandIPv6 (address: string): string[] {
  const [head = '', tail] = address.toLowerCase().split('%')[0]?.split('::') ?? ['']
  const groups = (part: string | undefined): string[] => part === undefined || part === '' ? [] : part.split(':')
  const left = groups(head)
  const right = groups(tail)
  const fill = tail === undefined ? [] : Array.from({ length: 8 - left.length - right.length }, () => '0')
  return [...left, ...fill, ...right].map((g) => g.replace(/^0+(?=.)/, ''))
}
