package app

import (
	"context"
	"github.com/cdnmetrics/cdnmetrics/internal/config"

	"github.com/cdnmetrics/cdnmetrics/internal/compare"
)

func init() {
	register(Command{Name: "compare", Summary: "compare providers over a window (ratios from summed counts, verdict vs a baseline)", Run: runCompare})
}

func runCompare(ctx context.Context, stdio IO, args []string) int {
	fs := newFlags(stdio, "compare", `
Reads the count series back from graphite-web ([graphite] web_url) and
prints per provider over the window: requests and bytes and their share,
hit ratio, origin offload, request offload, error ratio (all from counts
summed over the window) and probe TTFB p50/p95, with a verdict against the
baseline provider using the [compare] thresholds.
Basic auth: [graphite] username and password_env.
Exit status: 0 all pass, 1 a provider fails, 2 usage or config error,
3 graphite-web unreachable or its answer unusable.`)
	path := fs.String("config", "./config.toml", "config file")
	var f compare.Flags
	fs.StringVar(&f.From, "from", "-7d", "start: -7d, -24h, -30min, RFC 3339 or Unix seconds")
	fs.StringVar(&f.Until, "until", "now", "end (same forms as --from)")
	fs.StringVar(&f.Baseline, "baseline", "", "provider to judge the others against (default: [compare] baseline)")
	fs.StringVar(&f.Service, "service", "", "compare one service (default: sum over services)")
	fs.StringVar(&f.Format, "format", "table", "table, markdown or json")
	fs.StringVar(&f.PNG, "png", "", "also write hit ratio and origin offload per provider as a PNG to this file")
	if code, ok := parseFlags(fs, args); !ok {
		return code
	}
	cfg, ok := loadCommandConfig(fs, stdio, *path, config.ReadBackSections...)
	if !ok {
		return exitUsage
	}
	f.Password = graphitePassword(stdio, cfg)
	return compare.Execute(ctx, cfg, f, stdio.Stdout, stdio.Stderr)
}
