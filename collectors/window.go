package collectors

import (
	"fmt"
	"time"
)

// Bounds of the window keys: beyond them a value is a typo, not a choice.
// No vendor's data settles later than two hours, and re-reading more than
// a day per run re-sends a day of points every minute.
const (
	maxDelay   = 2 * time.Hour
	maxOverlap = 24 * time.Hour
)

// WindowKeys are the keys that shape a windowed collector's runs: how long
// after its end a vendor's interval is read (delay), how far each run
// re-reads the past for revisions (overlap) and how far the first run
// looks back (lookback). Vendor options embed it with their defaults, so
// the keys decode, validate and mean the same everywhere.
type WindowKeys struct {
	Delay    Duration `toml:"delay"`
	Overlap  Duration `toml:"overlap"`
	Lookback Duration `toml:"lookback"`
}

// ApplyTo returns t with the configured delay, overlap and lookback.
func (w WindowKeys) ApplyTo(t Timing) Timing {
	t.Delay, t.Overlap, t.Lookback = time.Duration(w.Delay), time.Duration(w.Overlap), time.Duration(w.Lookback)
	return t
}

// WindowProblems validates the keys of section: delay at most 2h and
// overlap at most 24h, neither negative; lookback positive and, when
// retention is set, within it (older data is gone at the vendor).
func (w WindowKeys) WindowProblems(section string, retention time.Duration) []Problem {
	var ps []Problem
	d, o, l := time.Duration(w.Delay), time.Duration(w.Overlap), time.Duration(w.Lookback)
	if d < 0 || d > maxDelay {
		ps = append(ps, Problem{Key: section + ".delay", Message: fmt.Sprintf("%v: must be between 0 and %v", d, maxDelay)})
	}
	if o < 0 || o > maxOverlap {
		ps = append(ps, Problem{Key: section + ".overlap", Message: fmt.Sprintf("%v: must be between 0 and %v", o, maxOverlap)})
	}
	if l <= 0 || (retention > 0 && l > retention) {
		msg := fmt.Sprintf("%v: must be positive", l)
		if retention > 0 {
			msg = fmt.Sprintf("%v: must be positive and at most %v (how long the vendor keeps the data)", l, retention)
		}
		ps = append(ps, Problem{Key: section + ".lookback", Message: msg})
	}
	return ps
}
