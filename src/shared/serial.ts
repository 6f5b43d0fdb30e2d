/**
 * Certificate serial numbers as dockgate compares them. Shared because the
 * issuer (src/certs), the CRL reader (src/config) and the TLS gate
 * (src/tls) must agree byte for byte on what "the same serial" means.
 */

/**
 * Upper-case hex without separators or leading zeros (`0` for zero).
 * Node prints serials with a leading zero nibble when the first byte is
 * small (`0A1B`), people paste them with colons, and a DER INTEGER may carry
 * a 00 byte to stay positive; all of those name the same certificate.
 */
export function normalizeSerial (hex: string): string {
  const trimmed = hex.replace(/:/g, '').toUpperCase().replace(/^0+/, '')
  return trimmed === '' ? '0' : trimmed
}

/** Whether `text` reads as a serial: 1 to 40 hex digits, colons allowed between them. */
export function isSerialHex (text: string): boolean {
  return /^[0-9A-Fa-f]{1,40}$/.test(text.replace(/:/g, ''))
}
