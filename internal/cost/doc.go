// Package cost prices a provider's traffic: [cost.<provider>] plans
// (currency, per-GB tiers on month-to-date volume, a price per 10,000
// requests, a monthly commitment) and the Meter that turns each `all`
// record's edge bytes and requests into <prefix>.<provider>.<service>.all.cost.
//
// Tiers apply to the month-to-date volume of one provider and service
// (UTC calendar months, 1 GB = 10^9 bytes, as CDNs bill). The volume is
// kept keyed by interval start: an interval read again (every collector
// re-reads an overlap, and a restart re-reads from its checkpoint)
// replaces its own volume and is never counted twice. An interval's cost
// uses the volume of the earlier intervals of its month, so the same
// interval always gets the same price whatever order it arrives in, as
// long as its month's earlier intervals are known.
//
// What it cannot know: real invoices bill egress by region (North America
// and Europe cheaper than South America, Oceania or India), add discounts,
// minimums, request classes and taxes, and count the volume of every
// service of an account together. The series is an estimate from one
// price list, per service.
package cost
