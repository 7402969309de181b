// Package schema owns the vocabulary of cdnmetrics' Graphite tree: the count
// fields every vendor maps into, the derived metrics and their formulas,
// the gauge names of the probe and origin-log collectors, the namespaces
// under the prefix that are not providers, the Event annotation, and the
// functions that turn them into Graphite paths (dotted and tagged). It does
// no I/O.
//
// Vendors produce Records (additive counts for one provider, service,
// location and interval, with a presence flag per field: unknown is not
// zero). Aggregate computes the "all" location and Derive the ratios, with
// the formulas compare also uses, so every vendor's numbers mean the same
// thing.
package schema
