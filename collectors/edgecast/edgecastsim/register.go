package edgecastsim

import "github.com/cdnmetrics/cdnmetrics/internal/simulate"

func init() {
	// Expect is left out on purpose: a real-time API has no history, so
	// Collect over a past window (what the end-to-end test of every vendor
	// asks) rightly emits nothing. Expect is exact for a live window; the
	// collector's tests and internal/e2e's EdgeCast test use it so.
	simulate.Register(simulate.Simulator{Name: provider, Serve: Serve, Config: Config})
}
