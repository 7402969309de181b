// Package schema is the unified CDN metric schema: the count fields every
// vendor maps into, the metrics derived from them, and the one function that
// turns them into Graphite paths. It does no I/O.
//
// Vendors produce Records (additive counts for one provider, service,
// location and interval, with a presence flag per field: unknown is not
// zero). Derive is the only place that computes the "all" location and the
// ratios, so every vendor's numbers mean the same thing.
package schema
