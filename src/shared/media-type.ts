/**
 * Content-Type values read as dockerd's Go reads them. Go's
 * mime.ParseMediaType (behind ParseForm and dockerd's JSON check) takes the
 * part before `;`, lower-cases it and trims white space, both by Unicode
 * rules on the header's UTF-8 bytes: so `applİcation/x-www-form-urlencoded`
 * (U+0130 lower-cases to `i`) and a value led by U+0085 or U+00A0 (white
 * space to Go) are form bodies to the daemon. Node hands header values over
 * as Latin-1 strings, where neither rule can be reproduced byte for byte; a
 * value with anything but printable ASCII is therefore never taken for JSON
 * and always counts as a possible form. For printable ASCII, Go's and
 * JavaScript's lower-casing and trimming agree.
 */

/** The one media type a JSON body rule reads. */
export const JSON_MEDIA_TYPE = 'application/json'

/** The media types whose body Go's ParseForm (and FormValue) reads as more parameters. */
const FORM_MEDIA_TYPES = new Set(['application/x-www-form-urlencoded', 'multipart/form-data'])

const PRINTABLE_ASCII = /^[\t\x20-\x7e]*$/

/**
 * The media type of a Content-Type value: the part before `;`, trimmed and
 * lower-cased; a value that is not printable ASCII gives '' (a media type
 * no rule accepts as JSON).
 */
export function mediaType (contentType: string): string {
  if (!PRINTABLE_ASCII.test(contentType)) return ''
  const cut = contentType.indexOf(';')
  return (cut === -1 ? contentType : contentType.slice(0, cut)).trim().toLowerCase()
}

/**
 * Among a request's Content-Type values, one whose body the daemon's
 * ParseForm could read as parameters (overriding the query's): its media
 * type, or a description of a value that is not printable ASCII. Null when
 * there is none.
 */
export function formMediaType (contentTypes: readonly string[]): string | null {
  for (const type of contentTypes) {
    if (!PRINTABLE_ASCII.test(type)) return `Content-Type ${JSON.stringify(type)} (not printable ASCII: Go may read it as a form)`
    const media = mediaType(type)
    if (FORM_MEDIA_TYPES.has(media)) return media
  }
  return null
}
