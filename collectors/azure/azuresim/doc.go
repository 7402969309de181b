// Package azuresim simulates Azure Front Door's figures in Azure Monitor
// for cdnmetrics' simulator and tests: a stand-in for the Microsoft
// identity platform's client-credentials token endpoint and for the ARM
// metrics API of Microsoft.Cdn/profiles (RequestCount, ResponseSize,
// OriginRequestCount, ByteHitRatio, TotalLatency, OriginLatency, split by
// HttpStatusGroup and ClientRegion, empty buckets as Azure answers them),
// the [azure] config section pointing at it, and Expect, the records the
// collector should emit, computed from the traffic model and Microsoft's
// documented meaning of each metric. It registers with internal/simulate
// from init() and does not import the collector.
package azuresim
