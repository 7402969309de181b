// Package e2e holds the end-to-end tests: the real binary's code paths
// (internal/app) against the built-in simulator and a real carbon-cache and
// graphite-web started by scripts/graphite-up. It has no non-test code.
package e2e
