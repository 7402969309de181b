package app

import (
	"log/slog"

	"github.com/cdnmetrics/cdnmetrics/internal/config"
	"github.com/cdnmetrics/cdnmetrics/internal/cost"
)

// newCostMeter is the pipeline's price meter for the [cost.<provider>]
// plans: nil without plans; a dry run keeps its month-to-date volume in
// memory only (it never moves state).
func newCostMeter(cfg *config.Config, dryRun bool, logger *slog.Logger) (*cost.Meter, error) {
	if len(cfg.Cost) == 0 {
		return nil, nil
	}
	dir := cfg.StateDir
	if dryRun {
		dir = ""
	}
	return cost.NewMeter(cfg.Cost, dir, logger)
}
