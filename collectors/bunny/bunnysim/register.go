package bunnysim

import "github.com/cdnmetrics/cdnmetrics/internal/simulate"

func init() {
	simulate.Register(simulate.Simulator{Name: provider, Serve: Serve, Config: Config, Expect: Expect})
}
