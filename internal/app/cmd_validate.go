package app

import (
	"context"
	"fmt"
	"strings"

	"github.com/cdnmetrics/cdnmetrics/internal/config"
)

func init() {
	register(Command{Name: "validate", Summary: "check the config file and report every problem", Run: runValidate})
}

func runValidate(ctx context.Context, stdio IO, args []string) int {
	fs := newFlags(stdio, "validate", `
Loads the config and reports every problem with file, line where known, and
key: unknown keys (typos are never ignored), bad values, bad cron specs,
addresses run could not use, secret variables that are not set; then
builds every collector as run does, without touching the network.
Warnings are printed but do not fail.
Exit status 2 when there is an error, 0 otherwise.`)
	path := fs.String("config", "./config.toml", "config file")
	if code, ok := parseFlags(fs, args); !ok {
		return code
	}
	cfg, probs := config.Load(*path, stdio.Getenv)
	for _, p := range probs {
		fmt.Fprintln(stdio.Stderr, p.String())
	}
	if len(probs.Errors()) > 0 {
		fmt.Fprintf(stdio.Stderr, "%s: %d error(s)\n", *path, len(probs.Errors()))
		return 2
	}
	// What run and collect check next, before they touch the network.
	if startupRefused(stdio, cfg, *path) {
		return 2
	}
	names := make([]string, 0, len(cfg.Collectors))
	for _, c := range cfg.Collectors {
		names = append(names, c.Name)
	}
	fmt.Fprintf(stdio.Stdout, "%s: OK, %d collector(s): %s\n", *path, len(names), strings.Join(names, ", "))
	return 0
}
