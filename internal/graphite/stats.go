package graphite

// Counters of the TCP sink and their self-metric points.

import (
	"time"

	"github.com/cdnmetrics/cdnmetrics/internal/schema"
)

// Stats are a sink's counters since it was created. Counts are points.
type Stats struct {
	SentPoints         uint64 // written to carbon (from the queue or replayed from the spool), re-sends not included
	ResentPoints       uint64 // written again because an earlier write may have been lost
	SendErrors         uint64 // failed connects and writes
	Reconnects         uint64 // connections opened after the first one
	DroppedInvalid     uint64 // refused by checkPoint (or unparsable in the spool)
	SpooledPoints      uint64 // written to the disk spool
	ReplayedPoints     uint64 // read back from the spool and written to carbon
	SpoolPoints        int64  // waiting in the spool now
	SpoolBytes         int64  // size of the spool now
	SpoolDroppedPoints uint64 // lost because the spool was full (oldest segment dropped) or unreadable
	SpoolCorruptPoints uint64 // lost in damaged spool records that the replay skipped
	LostPoints         uint64 // given up at Close (carbon away and no spool, or the spool refusing writes)
	QueuePoints        int    // waiting in the memory queue now
	Connected          bool   // a carbon connection is open

	SpoolErrors     uint64 // failed spool writes
	UnspooledPoints int64  // in memory now, neither delivered nor durable (carbon away, spool refusing or absent)

	// Points found in the spool at start (a previous process's), and what
	// became of them: FIFO order sends them out first. With these a caller
	// tells this process's own points from the ones it inherited.
	CarriedPoints   int64  // found at start
	CarriedReplayed uint64 // of those, replayed to carbon (included in SentPoints and ReplayedPoints)
	CarriedDropped  uint64 // of those, dropped (included in SpoolDroppedPoints)
	CarriedCorrupt  uint64 // of those, lost in damaged records (included in SpoolCorruptPoints)

	RequeuedPoints uint64 // counted in SentPoints, then spooled, held or lost as possibly not delivered

	CarbonError string // the last failed connect or write ("" before any)
	SpoolError  string // why the spool refuses writes now ("" while it takes them)
}

// Own returns what became of the points this process was given (those
// Send accepted): delivered to carbon, waiting in the spool, dropped (spool
// full or unreadable, or lost at Close), and still in memory.
func (st Stats) Own() (delivered, spooled, dropped, inMemory uint64) {
	sub := func(a, b uint64) uint64 {
		if a < b {
			return 0
		}
		return a - b
	}
	carriedLeft := st.CarriedPoints - int64(st.CarriedReplayed) - int64(st.CarriedDropped) - int64(st.CarriedCorrupt)
	delivered = sub(st.SentPoints, st.CarriedReplayed+st.RequeuedPoints)
	spooled = sub(uint64(max(st.SpoolPoints, 0)), uint64(max(carriedLeft, 0)))
	// Damaged records of an earlier run's points are that run's loss
	// (CarriedCorrupt), not this process's.
	dropped = sub(st.SpoolDroppedPoints, st.CarriedDropped) + st.LostPoints + sub(st.SpoolCorruptPoints, st.CarriedCorrupt)
	inMemory = uint64(max(st.UnspooledPoints, 0)) + uint64(max(st.QueuePoints, 0))
	return delivered, spooled, dropped, inMemory
}

// SelfPoints returns the counters as <prefix>.cdnmetrics.sink.<name> points
// stamped now.
func (st Stats) SelfPoints(prefix string, now time.Time) []schema.Point {
	t := now.Unix()
	conn := 0.0
	if st.Connected {
		conn = 1
	}
	vals := []struct {
		name string
		v    float64
	}{
		{"sent_points", float64(st.SentPoints)},
		{"resent_points", float64(st.ResentPoints)},
		{"send_errors", float64(st.SendErrors)},
		{"reconnects", float64(st.Reconnects)},
		{"dropped_invalid_points", float64(st.DroppedInvalid)},
		{"spooled_points", float64(st.SpooledPoints)},
		{"replayed_points", float64(st.ReplayedPoints)},
		{"spool_points", float64(st.SpoolPoints)},
		{"spool_bytes", float64(st.SpoolBytes)},
		{"spool_dropped_points", float64(st.SpoolDroppedPoints)},
		{"spool_corrupt_points", float64(st.SpoolCorruptPoints)},
		{"lost_points", float64(st.LostPoints)},
		{"queue_points", float64(st.QueuePoints)},
		{"connected", conn},
		{"spool_errors", float64(st.SpoolErrors)},
		{"unspooled_points", float64(st.UnspooledPoints)},
	}
	pts := make([]schema.Point, len(vals))
	for i, x := range vals {
		pts[i] = schema.Point{Path: schema.Path(prefix, schema.NamespaceSelf, "sink", x.name), Value: x.v, Time: t}
	}
	return pts
}

// Stats implements Sink.
func (s *TCPSink) Stats() Stats {
	s.errMu.Lock()
	carbonErr, spoolErr := s.carbonErr, s.spoolErrText
	s.errMu.Unlock()
	return Stats{
		CarbonError: carbonErr, SpoolError: spoolErr,
		SentPoints: s.sent.Load(), ResentPoints: s.resent.Load(), SendErrors: s.sendErrs.Load(),
		Reconnects: s.reconnects.Load(), DroppedInvalid: s.invalid.Load(),
		SpooledPoints: s.spooled.Load(), ReplayedPoints: s.replayed.Load(),
		SpoolPoints: s.spoolPoints.Load(), SpoolBytes: s.spoolBytes.Load(),
		SpoolDroppedPoints: s.spoolDropped.Load(), SpoolCorruptPoints: s.spoolCorrupt.Load(),
		LostPoints:  s.lost.Load(),
		QueuePoints: s.q.length(), Connected: s.connected.Load(),
		SpoolErrors: s.spoolErrs.Load(), UnspooledPoints: s.unspooled.Load(),
		CarriedPoints: s.carriedStart.Load(), CarriedReplayed: s.carriedReplayed.Load(),
		CarriedDropped: s.carriedDropped.Load(), RequeuedPoints: s.requeued.Load(), CarriedCorrupt: s.carriedCorrupt.Load(),
	}
}

// setErrors publishes the last carbon and spool errors for Stats.
func (s *TCPSink) setErrors(carbon, spool *string) {
	s.errMu.Lock()
	defer s.errMu.Unlock()
	if carbon != nil {
		s.carbonErr = *carbon
	}
	if spool != nil {
		s.spoolErrText = *spool
	}
}

// SelfPoints is Stats().SelfPoints.
func (s *TCPSink) SelfPoints(prefix string, now time.Time) []schema.Point {
	return s.Stats().SelfPoints(prefix, now)
}
