// Package gcpsim simulates Google Cloud CDN's reporting for cdnmetrics'
// simulator and tests: a stand-in for Google's OAuth token endpoint (the
// JWT bearer grant, verifying the signed assertion with the service
// account key's public half) and for Cloud Monitoring's
// projects.timeSeries.list serving the load balancer metrics from the
// traffic model, paged by nextPageToken; the [gcp] config section pointing
// at it with a generated service-account key file; and Expect, the records
// the collector should emit, computed from the model and Google's
// documented meanings. It registers with internal/simulate from init() and
// does not import the collector.
package gcpsim
