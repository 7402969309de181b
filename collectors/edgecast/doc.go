// Package edgecast collects EdgeCast (later Edgio) real-time statistics:
// GET /v2/realtimestats/customers/{account}/media/{platform}/{bandwidth,
// cachestatus,statuscode} per configured platform (http_large, http_small,
// adn, ...), authorised with "Authorization: TOK:<token>" or, when
// [edgecast.oauth] is set, a bearer token from OAuth 2 client credentials.
//
// Status: EdgeCast/Edgio shut the platform down in January 2025. The
// collector is kept for archived setups and successor endpoints that serve
// the same API; Validate says so with a warning.
//
// The API only knows "now": every value is a rate at the moment of the
// call. Each run (once a minute) takes one snapshot and stands it for the
// window's last minute [End-1m, End), approximating the minute's counts as
// rate × 60 s — a burst between snapshots is smoothed or missed. The
// vendor's Date header decides whether the snapshot is of that minute; a
// window collected later (a backfill) gets nothing, since there is no
// history to ask for.
//
// Emitted per platform (service = platform name, location = all):
//   - edge_bytes = bandwidth Result (bits/s) × 60 / 8;
//   - requests = sum of every cachestatus rate × 60, hits = TCP_HIT +
//     TCP_EXPIRED_HIT + TCP_PARTIAL_HIT, misses = TCP_MISS +
//     TCP_EXPIRED_MISS + TCP_CLIENT_REFRESH_MISS, passes = CONFIG_NOCACHE +
//     UNCACHEABLE (NONE counts only as a request);
//   - status_2xx..5xx from statuscode, class buckets ("4xx") and exact codes
//     ("404") added up as disjoint buckets; "other" is dropped.
//
// Not available: origin_requests and origin_bytes (the real-time API has
// no origin figures, so no origin_offload or request_offload) and errors.
// The connections endpoint is not read: connections are not requests.
package edgecast
