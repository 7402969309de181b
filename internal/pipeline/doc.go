// Package pipeline owns what happens to a batch between a collector and the
// sink. Every collector's Emitter comes from Pipeline.Emitter, which, in
// this order:
//
//   - drops what the vendor stamped ahead of our clock (beyond
//     clock_skew_tolerance) or before its retention (clockguard.go);
//   - drops impossible values one by one, keeping the rest of the record
//     (values.go);
//   - keeps only the `all` location for aggregate_only collectors;
//   - turns records and gauges into points (schema.Points derives `all` and
//     the ratios) and adds the anomaly scores (anomaly.go);
//   - hands the points to the sink, then to the Skyline feed, and sets
//     originlog's counts against the vendors' origin_requests
//     (reconcile.go).
//
// It also names services in paths without clashes (PathNamer, paths.go),
// counts everything it rejects, and reports it all as the self-metrics
// <prefix>.cdnmetrics.collector.<name>.* and, through the sink,
// <prefix>.cdnmetrics.sink.* (Pipeline.SelfPoints). Every rejection is
// logged once per batch with its reason.
//
// The pipeline moves no checkpoint: the scheduler does, for windows and
// streams alike, only after the sink has made the points durable
// (scheduler.Runner). Pipeline.NewestEnd tells it how far a stream got.
//
// Imports go one way: internal/app wires a Pipeline (cmd → app → pipeline);
// the pipeline imports the contract (collectors), schema, graphite's Sink,
// its feeds (anomaly, skyline) and scheduler's Result, never a vendor
// package or app. Vendor-specific names it must know (originlog's
// collector and location) are path contracts, written here as constants.
package pipeline
