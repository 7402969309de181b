package akamaisim

import "github.com/cdnmetrics/cdnmetrics/internal/simulate"

func init() {
	simulate.Register(simulate.Simulator{Name: "akamai", Serve: Serve, Config: Config, Expect: Expect})
}
