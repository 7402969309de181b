package graphite

import (
	"context"
	"sync"

	graphite "github.com/marpaia/graphite-golang"
)

// item is one queue entry: metrics, or a flush marker answered by the
// owner once everything queued before it is delivered or durable, or could
// be neither.
type item struct {
	ms    []graphite.Metric
	flush *flushReq
}

// flushReq is one Flush waiting for the owner.
type flushReq struct {
	done chan struct{}
	err  error // written before done is closed
}

func newFlushReq() *flushReq { return &flushReq{done: make(chan struct{})} }

// answer releases the Flush with err (nil: everything before it is
// delivered or durable).
func (f *flushReq) answer(err error) {
	f.err = err
	close(f.done)
}

// queue is the bounded FIFO between Send and the owner goroutine. It is
// bounded in points (markers are free) so many small Sends do not block
// earlier than one large one.
type queue struct {
	mu      sync.Mutex
	items   []item
	n       int // metrics queued
	flushes int // flush markers queued
	max     int
	space   chan struct{} // closed (and replaced) whenever points are taken
	ready   chan struct{} // capacity 1: something was pushed
	closed  bool
	// refused, when set, is returned by a push that would wait for space:
	// the owner holds as many points as it may and neither carbon nor the
	// spool takes them, so waiting could last forever.
	refused error
}

func newQueue(max int) *queue {
	return &queue{max: max, space: make(chan struct{}), ready: make(chan struct{}, 1)}
}

func (q *queue) signal() {
	select {
	case q.ready <- struct{}{}:
	default:
	}
}

// push appends ms, blocking while the queue is full. On ctx expiry it
// returns the error with a prefix of ms possibly queued.
func (q *queue) push(ctx context.Context, ms []graphite.Metric) error {
	for len(ms) > 0 {
		q.mu.Lock()
		if q.closed {
			q.mu.Unlock()
			return ErrClosed
		}
		free := q.max - q.n
		if free <= 0 && q.refused != nil {
			err := q.refused
			q.mu.Unlock()
			return err
		}
		if free <= 0 {
			ch := q.space
			q.mu.Unlock()
			select {
			case <-ch:
				continue
			case <-ctx.Done():
				return ctx.Err()
			}
		}
		k := min(free, len(ms))
		q.items = append(q.items, item{ms: ms[:k:k]})
		q.n += k
		ms = ms[k:]
		q.mu.Unlock()
		q.signal()
	}
	return nil
}

// pushFlush queues a flush marker; it never blocks.
func (q *queue) pushFlush(f *flushReq) error {
	q.mu.Lock()
	if q.closed {
		q.mu.Unlock()
		return ErrClosed
	}
	q.items = append(q.items, item{flush: f})
	q.flushes++
	q.mu.Unlock()
	q.signal()
	return nil
}

// take moves up to maxPts metrics (and about maxBytes of lines) from the
// head into dst. When the head is a flush marker and dst got nothing, it
// removes and returns the marker instead.
func (q *queue) take(dst []graphite.Metric, maxPts, maxBytes int) ([]graphite.Metric, *flushReq) {
	q.mu.Lock()
	defer q.mu.Unlock()
	taken, bytes := 0, 0
	for len(q.items) > 0 && taken < maxPts && bytes < maxBytes {
		it := &q.items[0]
		if it.flush != nil {
			if taken > 0 {
				break
			}
			f := it.flush
			q.flushes--
			q.items[0] = item{}
			q.items = q.items[1:]
			return dst, f
		}
		i := 0
		for i < len(it.ms) && taken < maxPts && bytes < maxBytes {
			bytes += metricSize(&it.ms[i])
			dst = append(dst, it.ms[i])
			i++
			taken++
		}
		if i == len(it.ms) {
			q.items[0] = item{}
			q.items = q.items[1:]
		} else {
			it.ms = it.ms[i:]
		}
	}
	if len(q.items) == 0 {
		q.items = nil // let the backing array go
	}
	if taken > 0 {
		q.n -= taken
		close(q.space)
		q.space = make(chan struct{})
	}
	return dst, nil
}

// length is the number of queued points.
func (q *queue) length() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.n
}

// pending returns the queued points and flush markers.
func (q *queue) pending() (points, flushes int) {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.n, q.flushes
}

// failFlushes answers every queued flush marker with err, leaving the
// points in place. The owner calls it when points taken before all of them
// could be neither delivered nor spooled: those Flushes must fail now, not
// wait behind a queue the owner is not taking from.
func (q *queue) failFlushes(err error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.flushes == 0 {
		return
	}
	kept := q.items[:0]
	for _, it := range q.items {
		if it.flush != nil {
			it.flush.answer(err)
			continue
		}
		kept = append(kept, it)
	}
	for i := len(kept); i < len(q.items); i++ {
		q.items[i] = item{}
	}
	q.items = kept
	q.flushes = 0
}

// refuse makes pushes that would wait for space fail with err (nil: wait
// again), waking those waiting now.
func (q *queue) refuse(err error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if (q.refused == nil) == (err == nil) {
		q.refused = err
		return
	}
	q.refused = err
	close(q.space)
	q.space = make(chan struct{})
}

// close refuses further pushes.
func (q *queue) close() {
	q.mu.Lock()
	q.closed = true
	q.mu.Unlock()
}
