package app

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/cdnmetrics/cdnmetrics/collectors"
	"github.com/cdnmetrics/cdnmetrics/internal/config"
	"github.com/cdnmetrics/cdnmetrics/internal/rum/rumsim"
	"github.com/cdnmetrics/cdnmetrics/internal/simulate"
	"github.com/cdnmetrics/cdnmetrics/internal/traffic"
)

// simulatedIn starts an in-process simulator and returns a config whose
// core (state_dir, [graphite], [events]) comes from the file at path when
// it exists, and whose collectors all point at the simulator; state is kept
// under stateDir when it is not empty (a dry run's throw-away directory).
func simulatedIn(stdio IO, path string, seed int64, stateDir string) (*config.Config, *simulate.Server, bool) {
	core := config.Default()
	core.StateDir = ".state"
	if _, err := os.Stat(path); err == nil {
		cfg, ok := loadConfig(stdio, path)
		if !ok {
			return nil, nil, false
		}
		core = *cfg
	}
	if stateDir != "" {
		core.StateDir = stateDir
	}
	srv, err := simulate.Start(simulate.Options{Model: traffic.Demo(seed), Logger: newCommandLogger(stdio.Stderr, "warn", core.LogFormat)})
	if err != nil {
		fmt.Fprintln(stdio.Stderr, err)
		return nil, nil, false
	}
	dir := filepath.Join(core.StateDir, "simulator")
	text, err := srv.Config(simulate.Core{StateDir: core.StateDir, GraphiteAddr: core.Graphite.Address, GraphiteWebURL: core.Graphite.WebURL, Prefix: core.Graphite.Prefix}, dir)
	if err != nil {
		srv.Close()
		fmt.Fprintln(stdio.Stderr, err)
		return nil, nil, false
	}
	getenv := func(k string) string {
		if k == collectors.SimSecretEnv {
			return collectors.SimSecret
		}
		return stdio.Getenv(k)
	}
	cfg, probs := config.Parse("<simulator config>", []byte(text), getenv)
	if len(probs.Errors()) > 0 {
		srv.Close()
		fmt.Fprintln(stdio.Stderr, probs.Error())
		return nil, nil, false
	}
	cfg.Events, cfg.Hook, cfg.Compare, cfg.LogLevel, cfg.LogFormat, cfg.MaxCatchup = core.Events, core.Hook, core.Compare, core.LogLevel, core.LogFormat, core.MaxCatchup
	cfg.Admin = core.Admin
	cfg.RUM = core.RUM   // the demo's RUM endpoint, fed by rumsim (cmd_run.go)
	cfg.Cost = core.Cost // price plans: the user's, the simulator has none
	return cfg, srv, true
}

// simEnv makes the simulator's credential visible to collectors built in
// this process.
func simEnv(stdio IO) IO {
	inner := stdio.Getenv
	stdio.Getenv = func(k string) string {
		if k == collectors.SimSecretEnv {
			return collectors.SimSecret
		}
		return inner(k)
	}
	return stdio
}

// simulatedBrowsers are the demo's synthetic RUM beacons (internal/rum/rumsim)
// towards [rum]: the allow-listed providers, the first service and origin,
// from the same traffic model as the simulator.
func simulatedBrowsers(cfg *config.Config, seed int64) rumsim.Options {
	r := cfg.RUM
	o := rumsim.Options{URL: "http://" + r.Listen + r.Path, Model: traffic.Demo(seed), Providers: r.Providers,
		CountryHeader: r.CountryHeader, Countries: []string{"GB", "US", "DE", "JP"}}
	if len(r.Services) > 0 {
		o.Service = r.Services[0]
	}
	if len(r.AllowedOrigins) > 0 {
		o.Origin = r.AllowedOrigins[0]
	}
	return o
}
