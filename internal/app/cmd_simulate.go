package app

import (
	"context"
	"fmt"
	"os"

	"github.com/cdnmetrics/cdnmetrics/internal/config"
	"github.com/cdnmetrics/cdnmetrics/internal/simulate"
	// Every vendor's stand-in, for this command and for --simulate
	// (simcfg.go); collectors/all, imported by main, links the collectors.
	_ "github.com/cdnmetrics/cdnmetrics/collectors/all/sim"
	"github.com/cdnmetrics/cdnmetrics/internal/traffic"
)

func init() {
	register(Command{Name: "simulate", Summary: "serve stand-ins for every vendor API on loopback", Run: runSimulate})
}

func runSimulate(ctx context.Context, stdio IO, args []string) int {
	fs := newFlags(stdio, "simulate", `
Serves a stand-in for every vendor API on a loopback address, in the
vendors' real response shapes, from one deterministic traffic model (a
diurnal curve, POPs with different hit ratios, occasional 5xx bursts):
the same --seed always serves the same numbers. With --write-config it
writes a config pointing every collector at it (core settings taken from
--config when that file exists). Runs until SIGINT/SIGTERM.`)
	path := fs.String("config", "./config.toml", "config file whose state_dir and [graphite] the written config keeps")
	listen := fs.String("listen", "127.0.0.1:8089", "address to serve on (keep it on loopback)")
	seed := fs.Int64("seed", 1, "traffic model seed")
	write := fs.String("write-config", "", "write a config pointing every collector at the simulator to this file")
	if code, ok := parseFlags(fs, args); !ok {
		return code
	}
	// The config file, when there is one, gives log_format and log_level
	// (--log-level overrides); without one, text at info.
	level, format := "info", "text"
	if _, err := os.Stat(*path); err == nil {
		c, ok := loadCommandConfig(fs, stdio, *path)
		if !ok {
			return exitUsage
		}
		level, format = c.LogLevel, c.LogFormat
	} else if lv := logLevelOf(fs); lv != "" {
		level = lv
	}
	logger := newCommandLogger(stdio.Stderr, level, format)
	srv, err := simulate.Start(simulate.Options{Addr: *listen, Model: traffic.Demo(*seed), Logger: logger})
	if err != nil {
		fmt.Fprintln(stdio.Stderr, err)
		return 1
	}
	defer srv.Close()
	if *write != "" {
		core := config.Default()
		core.StateDir = ".state"
		if _, err := os.Stat(*path); err == nil {
			c, ok := loadConfig(stdio, *path)
			if !ok {
				return 2
			}
			core = *c
		}
		text, err := srv.Config(simulate.Core{StateDir: core.StateDir, GraphiteAddr: core.Graphite.Address, GraphiteWebURL: core.Graphite.WebURL, Prefix: core.Graphite.Prefix}, core.StateDir+"/simulator")
		if err == nil {
			err = os.WriteFile(*write, []byte(text), 0o640)
		}
		if err != nil {
			fmt.Fprintln(stdio.Stderr, err)
			return 1
		}
		logger.Info("config written", "file", *write)
	}
	logger.Info("simulator serving", "url", srv.URL, "vendors", srv.Vendors(), "seed", *seed)
	fmt.Fprintln(stdio.Stdout, srv.URL)
	<-ctx.Done()
	return 0
}
