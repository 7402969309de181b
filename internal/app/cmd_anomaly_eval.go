package app

import (
	"context"

	"github.com/cdnmetrics/cdnmetrics/internal/nab"
)

// anomaly-eval's usage, -h included, is nab.RunCommand's: it names every
// flag, so the command adds none of its own.
func init() {
	register(Command{Name: "anomaly-eval", Summary: "score the built-in anomaly detector on the Numenta Anomaly Benchmark", Run: func(ctx context.Context, stdio IO, args []string) int {
		return nab.RunCommand(ctx, args, stdio.Stdout, stdio.Stderr)
	}})
}
