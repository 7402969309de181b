package anomaly

import (
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
}

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
	report := score >= s.o.Threshold && (sr.reported == 0 || t-sr.reported >= s.o.Repeat)
	if report {
		sr.reported = t
	}
	s.mu.Unlock()
	if report && s.o.OnCrossing != nil {
		s.o.OnCrossing(Crossing{Path: path, Time: t, Value: v, Score: score})
	}
	return score, true
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
