package nab

import (
	"fmt"

	"github.com/cdnmetrics/cdnmetrics/internal/anomaly"
)

// GridPoint is one parameter set of the held-out search.
type GridPoint struct {
	Name   string
	Params anomaly.Params
}

// HoldoutGrid is the fixed, declared grid that --holdout --grid searches on
// each tuning half: 3·3·3·3·2 = 162 variants of the defaults in the values
// the README says were tuned on the whole corpus (the z-score squash, the
// seasonal weight and squash, the quiet time, Recur). Its centre is the
// default set, itself chosen on the whole corpus, so even this search is
// not blind to the held-out half; it shows how much a half's own choice
// moves the score.
func HoldoutGrid() []GridPoint {
	var out []GridPoint
	for _, zs := range []float64{2, 3, 4} {
		for _, sw := range []float64{0.6, 0.8, 1} {
			for _, ss := range []float64{3, 5, 8} {
				for _, q := range []int{200, 300, 450} {
					for _, rec := range []int{1, 3} {
						p := anomaly.DefaultParams()
						p.ZScale, p.SeasonWeight, p.SeasonScale, p.Quiet, p.Recur = zs, sw, ss, q, rec
						out = append(out, GridPoint{
							Name:   fmt.Sprintf("ZScale=%g SeasonWeight=%g SeasonScale=%g Quiet=%d Recur=%d", zs, sw, ss, q, rec),
							Params: p,
						})
					}
				}
			}
		}
	}
	return out
}
