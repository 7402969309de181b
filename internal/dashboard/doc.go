// Package dashboard checks the shipped Grafana dashboard
// (scripts/grafana-dashboard.json) against the metric schema: every panel
// target must parse as a Graphite target expression and every metric path
// in it must end in a metric cdnmetrics writes, so a renamed metric cannot
// silently leave an empty panel. It holds a small parser of Graphite
// target expressions (function calls, quoted strings, numbers, booleans,
// keyword arguments and metric paths with wildcards and template
// variables).
package dashboard
