/**
 * The media type of a Content-Type value, as Go's mime.ParseMediaType
 * reduces it before dockerd compares it: the part before `;`, trimmed and
 * lower-cased.
 */
export function mediaType (contentType: string): string {
  const cut = contentType.indexOf(';')
  return (cut === -1 ? contentType : contentType.slice(0, cut)).trim().toLowerCase()
}

/** The one media type a JSON body rule reads. */
export const JSON_MEDIA_TYPE = 'application/json'
