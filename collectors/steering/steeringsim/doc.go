// Package steeringsim stands in for Amazon Route 53's
// ListResourceRecordSets (REST-XML) for cdnmetrics' simulator and tests:
// one hosted zone holding, for every service of the traffic model, a
// weighted CNAME record per simulated provider whose weight follows the
// provider's share of the model's traffic (its Character.Scale), so that
// compare's weight-versus-observed-share check passes in the demo. It
// registers with internal/simulate from init() and does not import the
// collector.
package steeringsim
