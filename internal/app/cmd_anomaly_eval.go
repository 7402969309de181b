package app

import (
	"context"

	"github.com/cdnmetrics/cdnmetrics/internal/nab"
)

func init() {
	register(Command{Name: "anomaly-eval", Summary: "score the built-in anomaly detector on the Numenta Anomaly Benchmark", Run: func(ctx context.Context, stdio IO, args []string) int {
		for _, a := range args {
			if a == "-h" || a == "--help" || a == "-help" {
				stdio.Stderr.Write([]byte("Usage: cdnmetrics anomaly-eval DIR [--format table|json] [--scores-dir DIR] [--holdout [--grid]] [--report]\n\nRuns the built-in detector over the NAB corpus in DIR (data/, labels/, config/) and prints the\nstandard, reward-low-FP and reward-low-FN scores from NAB's published scoring rules.\n\n"))
				break
			}
		}
		return nab.RunCommand(ctx, args, stdio.Stdout, stdio.Stderr)
	}})
}
