// Package graphitetest runs a real carbon-cache and graphite-web (Debian
// packages, via scripts/graphite-up) on free loopback ports for integration
// tests, and reads back what they stored through graphite-web's render API.
//
// Tests using it skip under `go test -short`. When the packages are missing
// they skip too, unless CDNMETRICS_REQUIRE_GRAPHITE=1 (set by `make test`),
// in which case the script installs them or the test fails.
package graphitetest
