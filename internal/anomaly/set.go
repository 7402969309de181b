package anomaly

import (
	"math"
	"sync"
	"sync/atomic"
)

// Crossing is one threshold crossing of a series' anomaly score.
type Crossing struct {
	Path  string  // the series' Graphite path
	Time  int64   // the point's time, Unix seconds
	Value float64 // the point's value
	Score float64 // its anomaly score, ≥ the threshold
}

// SetOptions configures a Set.
type SetOptions struct {
	// Threshold is the score at or above which a point is an anomaly. By
	// default, DefaultThreshold.
	Threshold float64
	// Repeat is the number of seconds after a reported crossing during which
	// further crossings of the same series are not reported. By default,
	// 3600.
	Repeat int64
	// MaxSeries bounds the number of series tracked; points of further
	// series are ignored (and counted). By default, 100000.
	MaxSeries int
	// OnCrossing is called, synchronously and without the Set's lock held,
	// for every reported crossing. May be nil.
	OnCrossing func(Crossing)
	// Confirm is the number of points after a crossing that must confirm it
	// before it is reported, as an alert rule waits "for" a few minutes
	// (0: DefaultConfirm; negative: report at once). See confirm.
	Confirm int
}

// DefaultConfirm is the default SetOptions.Confirm: two points, two minutes
// on minute data. On the simulator's clean CDN days (hit ratio, error ratio,
// two POPs' requests, seeds 1–4, days 4–7) the detector's scores cross 0.5
// 47 times in 64 series-days; with two confirming points nothing is
// reported, while a hit-ratio drop, an error burst and a traffic shift are
// still reported within 5 minutes (cdn_test.go). NAB scores the detector's
// scores, not the Set's reports: confirmation is an alerting rule, not
// part of the number anomaly-eval prints.
const DefaultConfirm = 2

// maxConfirm bounds SetOptions.Confirm (and a pending count read back from
// a state file).
const maxConfirm = 60

// confirmZ is how many baseline standard deviations a crossing and every
// confirming point must stay away from the baseline; confirmFrac is the
// share of the crossing's own deviation they must keep.
const (
	confirmZ    = 2
	confirmFrac = 0.5
)

// DefaultThreshold is the default QuietLevel and the configuration's default
// threshold. NAB's optimiser picks 0.5101 for DefaultParams on all three
// profiles (it drops the weakest alarms just above 0.5: 72.90 / 66.85 /
// 76.76); at 0.5 the NAB scores are 0.4–1.3 points lower (72.31 / 65.60 /
// 76.37).
const DefaultThreshold = 0.5

// series is a Set's state for one path.
type series struct {
	d        *Detector
	last     int64 // time of the last point accepted
	reported int64 // time of the last reported crossing; 0 = never
	score    float64
	pend     pending // a crossing waiting for confirmation
}

// pending is a crossing held back until the points after it confirm it.
type pending struct {
	left  int     // points still to confirm it; 0: nothing pending
	at    int64   // the crossing's time
	value float64 // its value
	score float64 // its score
	base  float64 // the baseline before it (the fastest tracker's mean)
	dir   float64 // +1 above the baseline, −1 below
	need  float64 // the least deviation along dir a confirming point keeps
}

// Set scores many series, keyed by path. It is safe for concurrent use.
type Set struct {
	p      Params
	o      SetOptions
	mu     sync.Mutex
	series map[string]*series
	over   atomic.Uint64
}

// NewSet returns an empty Set whose detectors use p.
func NewSet(p Params, o SetOptions) *Set {
	if o.Threshold <= 0 {
		o.Threshold = DefaultThreshold
	}
	if o.Repeat <= 0 {
		o.Repeat = 3600
	}
	if o.MaxSeries <= 0 {
		o.MaxSeries = 100000
	}
	if o.Confirm == 0 {
		o.Confirm = DefaultConfirm
	}
	o.Confirm = min(o.Confirm, maxConfirm)
	return &Set{p: p, o: o, series: make(map[string]*series)}
}

// Observe feeds one point of path and returns its anomaly score. A point not
// newer than the series' last one (a re-send, or late data) does not change
// the detector: it returns the last score with fresh false. A point of a new
// series beyond MaxSeries returns 0, false.
func (s *Set) Observe(path string, t int64, v float64) (score float64, fresh bool) {
	s.mu.Lock()
	sr, ok := s.series[path]
	if !ok {
		if len(s.series) >= s.o.MaxSeries {
			s.mu.Unlock()
			s.over.Add(1)
			return 0, false
		}
		sr = &series{d: New(s.p), last: t - 1}
		s.series[path] = sr
	}
	if t <= sr.last {
		score = sr.score
		s.mu.Unlock()
		return score, false
	}
	sr.last = t
	sr.score = sr.d.Update(t, v)
	score = sr.score
	c, report := s.confirm(sr, t, v, score)
	if report && (sr.reported == 0 || c.Time-sr.reported >= s.o.Repeat) {
		sr.reported = c.Time
	} else {
		report = false
	}
	s.mu.Unlock()
	if report && s.o.OnCrossing != nil {
		c.Path = path
		s.o.OnCrossing(c)
	}
	return score, true
}

// confirm decides whether the point (t, v) with score makes sr report a
// crossing now, and which: with confirmation on, a crossing is held until
// the Confirm points after it stay away from the baseline it left, on the
// same side, by confirmZ baseline standard deviations and by confirmFrac of
// its own deviation; the report then carries the crossing's time, value and
// score (the onset, not the confirmation). A lone noisy point, a value that
// the next point takes back, a return to the floor after a burst: none of
// them persist, so none are reported. A stuck-value score needs no
// confirmation, since it is a persistence already; but a record run at the
// value of the previous record run (an error ratio resting at 0 for longer
// than ever) is where the series rests and is not reported.
func (s *Set) confirm(sr *series, t int64, v, score float64) (Crossing, bool) {
	if s.o.Confirm < 0 {
		return Crossing{Time: t, Value: v, Score: score}, score >= s.o.Threshold
	}
	if pd := &sr.pend; pd.left > 0 {
		if (v-pd.base)*pd.dir >= pd.need {
			if pd.left--; pd.left == 0 {
				return Crossing{Time: pd.at, Value: pd.value, Score: pd.score}, true
			}
			return Crossing{}, false
		}
		pd.left = 0 // taken back: the crossing was noise
	}
	if score < s.o.Threshold {
		return Crossing{}, false
	}
	if sr.d.stuckNow {
		return Crossing{Time: t, Value: v, Score: score}, !sr.d.stuckAtRest()
	}
	base, sd := sr.d.baseline()
	dev := v - base
	if math.Abs(dev) < confirmZ*sd {
		return Crossing{}, false // not away from the baseline: noise
	}
	dir := 1.0
	if dev < 0 {
		dir = -1
	}
	sr.pend = pending{left: s.o.Confirm, at: t, value: v, score: score, base: base, dir: dir,
		need: math.Max(confirmFrac*math.Abs(dev), confirmZ*sd)}
	return Crossing{}, false
}

// Len is the number of series tracked.
func (s *Set) Len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.series)
}

// Overflow is the number of points ignored because MaxSeries was reached.
func (s *Set) Overflow() uint64 { return s.over.Load() }

// Forget drops a series' state, e.g. when a service is removed.
func (s *Set) Forget(path string) {
	s.mu.Lock()
	delete(s.series, path)
	s.mu.Unlock()
}
