package graphite

// Points carbon did not take in time: into the spool, or held in memory
// when the spool refuses them or there is none; replayed from the spool
// once carbon is back.

import (
	"errors"
	"fmt"
	"time"

	graphite "github.com/marpaia/graphite-golang"
)

// errNoSpool is why points are held in memory when there is no spool.
var errNoSpool = errors.New("no spool configured (graphite.spool_max_bytes = 0)")

// spoolRetryEvery is how often a spool that refused a write is tried again.
const spoolRetryEvery = time.Second

// parkResend parks the batches waiting for re-send. They were counted as
// sent when first written; requeued takes that back, so Stats.Own counts
// each point once.
func (s *TCPSink) parkResend() {
	r := s.resend
	s.resend = nil
	for _, ms := range r {
		s.requeued.Add(uint64(len(ms)))
		s.park(ms)
	}
}

// park takes a batch carbon did not take in time: into the spool, or into
// memory behind the held points when the spool refuses it, is not due for
// another try, or does not exist.
func (s *TCPSink) park(ms []graphite.Metric) {
	if len(ms) == 0 {
		return
	}
	if len(s.held) == 0 && s.spool != nil && !time.Now().Before(s.spoolRetry) {
		if s.toSpool(ms) == nil {
			return
		}
	}
	s.hold(ms)
}

// hold keeps a copy of ms in memory, neither delivered nor durable.
func (s *TCPSink) hold(ms []graphite.Metric) {
	first := len(s.held) == 0
	if first {
		s.heldSince = time.Now()
		if s.spool == nil {
			s.heldWhy = errNoSpool
		}
	}
	s.held = append(s.held, append([]graphite.Metric(nil), ms...))
	s.heldPoints += len(ms)
	s.unspooled.Store(int64(s.heldPoints))
	if first {
		s.log.Error("graphite points neither delivered nor spooled: kept in memory, retried to carbon and the spool",
			"reason", s.heldErr().Error())
	}
}

// heldErr says why held points are neither delivered nor durable.
func (s *TCPSink) heldErr() error {
	why := s.heldWhy
	if why == nil {
		why = errors.New("spool write failed")
	}
	carbon := "carbon unreachable"
	s.errMu.Lock()
	if s.carbonErr != "" {
		carbon += " (" + s.carbonErr + ")"
	}
	s.errMu.Unlock()
	return fmt.Errorf("graphite: %d points neither delivered nor spooled: %s; %w", s.heldPoints, carbon, why)
}

// heldDue reports whether an attempt to place the held points is due:
// carbon's backoff ran out (and the spool's older records are out of the
// way, unless outOfOrder), or the spool's retry time came.
func (s *TCPSink) heldDue(outOfOrder bool) bool {
	now := time.Now()
	if !now.Before(s.nextTry) && (outOfOrder || s.spool == nil || s.spool.empty()) {
		return true
	}
	return s.spool != nil && !now.Before(s.spoolRetry)
}

// releaseHeld tries to place the held points, to carbon first, then to
// the spool, each when due. Flushes waiting behind them are answered: nil
// once nothing is held, the reason when an attempt left points held (and,
// when memory is full, so are those still in the queue, which all come
// after the held points).
// With outOfOrder (Close) held points may overtake the spool's records:
// better out of order than lost.
//
// Flushes fail only once points were held for the flush timeout (carbon
// may come back within it), and only right after the spool (or, without
// one, carbon) refused them again, so a Flush sees the latest try.
func (s *TCPSink) releaseHeld(outOfOrder bool) {
	now := time.Now()
	tried := false // the last resort was tried: the spool, or carbon without one
	if !now.Before(s.nextTry) && (outOfOrder || s.spool == nil || s.spool.empty()) {
		tried = s.spool == nil
		for len(s.held) > 0 {
			if s.writeAll(s.held[0]) != nil {
				break
			}
			s.popHeld()
		}
		if len(s.resend) > 0 {
			// Written on the connection that just failed: they go first.
			for _, r := range s.resend {
				s.heldPoints += len(r)
				s.requeued.Add(uint64(len(r)))
			}
			s.held = append(s.resend, s.held...)
			s.resend = nil
		}
	}
	if len(s.held) > 0 && s.spool != nil && !now.Before(s.spoolRetry) {
		tried = true
		for len(s.held) > 0 {
			if s.toSpool(s.held[0]) != nil {
				break
			}
			s.popHeld()
		}
	}
	s.unspooled.Store(int64(s.heldPoints))
	if len(s.held) == 0 {
		s.log.Info("graphite points held in memory are now delivered or spooled")
		s.answerFlushes(nil)
		s.q.refuse(nil)
		return
	}
	if !tried || time.Since(s.heldSince) < s.o.flushTimeout {
		return // Flushes wait on: carbon may be back soon, the disk freed
	}
	err := s.heldErr()
	s.answerFlushes(err)
	if s.heldPoints >= s.o.queueSize {
		// Memory is full too: the queue is not taken from, so Flushes
		// in it fail now, and Send fails instead of waiting forever.
		s.q.failFlushes(err)
		s.q.refuse(err)
	} else {
		s.q.refuse(nil)
	}
}

// popHeld removes the first held batch (placed).
func (s *TCPSink) popHeld() {
	s.heldPoints -= len(s.held[0])
	s.held[0] = nil
	s.held = s.held[1:]
	if len(s.held) == 0 {
		s.held = nil
	}
}

// toSpool makes ms durable in the spool, in one attempt. On failure the
// caller keeps ms; the spool is tried again after spoolRetryEvery.
func (s *TCPSink) toSpool(ms []graphite.Metric) error {
	buf := make([]byte, 0, len(ms)*64)
	for i := range ms {
		buf = appendMetric(buf, &ms[i])
	}
	var err error
	if s.o.spoolFault != nil {
		err = s.o.spoolFault()
	}
	if err == nil {
		err = s.spool.append(buf, len(ms))
	}
	s.syncSpoolStats() // a drop of old segments counts even if the write failed
	if err != nil {
		s.spoolErrs.Add(1)
		s.spoolRetry = time.Now().Add(spoolRetryEvery)
		if s.spoolErr == nil {
			// Once per episode; every later failure is counted only.
			s.log.Error("graphite spool write failed", "dir", s.spool.dir, "err", err)
		}
		s.spoolErr = err
		s.heldWhy = fmt.Errorf("spool %s refuses writes: %w", s.spool.dir, err)
		msg := s.heldWhy.Error()
		s.setErrors(nil, &msg)
		return err
	}
	if s.spoolErr != nil {
		s.log.Info("graphite spool writable again", "dir", s.spool.dir, "failed_writes", s.spoolErrs.Load())
		s.spoolErr = nil
		empty := ""
		s.setErrors(nil, &empty)
	}
	if s.spooling == 0 {
		s.log.Warn("graphite carbon unavailable: spooling to disk", "dir", s.spool.dir)
	}
	s.spooling += uint64(len(ms))
	s.spooled.Add(uint64(len(ms)))
	s.log.Debug("graphite spooled", "points", len(ms))
	s.syncSpoolStats()
	return nil
}

// drainToSpool moves whatever is queued into the spool so Send does not
// block while a replay is running.
func (s *TCPSink) drainToSpool(batch []graphite.Metric) {
	for s.heldPoints < s.o.queueSize {
		var marker *flushReq
		batch, marker = s.q.take(batch[:0], s.o.batchPoints, s.o.batchBytes)
		if marker != nil {
			s.flushed(marker)
			continue
		}
		if len(batch) == 0 {
			return
		}
		if len(s.held) > 0 {
			s.hold(batch)
		} else {
			s.park(batch)
		}
	}
}

// replayOne writes the oldest spooled batch to carbon; false when it could
// not (carbon unreachable, spool unreadable, or nothing left).
func (s *TCPSink) replayOne() bool {
	payload, recLen, ok, err := s.spool.peek()
	if err != nil {
		s.log.Error("graphite spool read failed", "err", err)
		s.nextTry = time.Now().Add(time.Second)
		return false
	}
	if !ok {
		s.syncSpoolStats()
		return false
	}
	s.syncSpoolStats() // damage skipped on the way came before this record
	ms, bad := parseLines(payload, nil)
	if bad > 0 {
		s.invalid.Add(uint64(bad))
	}
	if err := s.writeAll(ms); err != nil {
		return false // writeAll armed the backoff; the record stays
	}
	s.spool.ack(recLen, len(ms)+bad)
	s.replayed.Add(uint64(len(ms)))
	if s.carried > 0 {
		// A previous process's points leave the spool first (FIFO).
		k := min(s.carried, int64(len(ms)))
		s.carriedReplayed.Add(uint64(k))
		s.carried -= min(s.carried, int64(len(ms)+bad))
	}
	if s.replaying == 0 {
		s.log.Info("graphite replaying spool", "points", s.spool.points+int64(len(ms)))
	}
	s.replaying += uint64(len(ms))
	if s.spool.empty() {
		s.log.Info("graphite spool replayed", "points", s.replaying, "spooled_during_outage", s.spooling)
		s.replaying, s.spooling = 0, 0
	}
	s.syncSpoolStats()
	return true
}

func (s *TCPSink) syncSpoolStats() {
	if d := s.spool.dropped - s.droppedAt; d > 0 {
		// Drops take the oldest segments first: a previous process's
		// points go before this one's.
		k := min(s.carried, int64(d))
		s.carried -= k
		s.carriedDropped.Add(uint64(k))
		s.droppedAt = s.spool.dropped
	}
	if d := s.spool.corrupt - s.corruptAt; d > 0 {
		// Damage met by the replay: FIFO, so a previous process's
		// points are the first lost.
		k := min(s.carried, int64(d))
		s.carried -= k
		s.carriedCorrupt.Add(uint64(k))
		s.corruptAt = s.spool.corrupt
	}
	s.spoolPoints.Store(s.spool.points)
	s.spoolBytes.Store(s.spool.total)
	s.spoolDropped.Store(s.spool.dropped)
	s.spoolCorrupt.Store(s.spool.corrupt)
}
