/**
 * Team isolation, the domain part: owner labels in queries, list scoping,
 * response filters, which requests name which objects, the daemon's
 * not-found answers, and the owner index. Imports only src/shared and node
 * built-ins. The owner labels in JSON bodies, the body references and the
 * ownership scope are read by the policy core (src/policy: labelCreateBody,
 * checkOwnerLabel, containerCreateReferences, networkConnectReferences,
 * ownershipScope), where dockerd's JSON reading lives.
 */
export { isVisible, OWNER_LABEL, ownerOfLabels, type ObjectKind, type OwnershipScope } from './scope.js'
export { formatFilters, mergePruneReports, readFilters, scopeList, withOwner, type Filters, type ListScoping, type ResponseFilterKind } from './filters.js'
export { labelQuery, type QueryLabelling } from './owner-query.js'
export { filterSystemDf, filterVolumeList, JsonArrayFilter, responseFilter } from './response-filter.js'
export { EventFilter, eventVisible, type OwnerLookup } from './events-filter.js'
export { routeObjects, type NameClaim, type NamedObject, type RouteObjects } from './routes.js'
export { bodyMissingAnswer, missingAnswer, notFoundMessage, type MissingAnswer, type MissingStyle } from './not-found.js'
export { familiarName, parseImageRef, type ImageRef } from '../shared/image-ref.js'
export { OwnerStore, type IndexedObject, type Resolution } from './store.js'
export { OwnerIndex, type ClaimResult, type OwnerIndexOptions } from './owner-index.js'
export { DaemonClient, type DaemonAnswer } from './daemon.js'
