package fastlysim

import "github.com/cdnmetrics/cdnmetrics/internal/simulate"

func init() {
	simulate.Register(simulate.Simulator{Name: "fastly", Serve: Serve, Config: Config, Expect: Expect})
}
