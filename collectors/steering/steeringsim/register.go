package steeringsim

import "github.com/cdnmetrics/cdnmetrics/internal/simulate"

func init() {
	// No Expect: the weights are not records of an interval.
	simulate.Register(simulate.Simulator{Name: name, Serve: Serve, Config: Config})
}
