package fastly

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/cdnmetrics/cdnmetrics/collectors"
	"github.com/cdnmetrics/cdnmetrics/internal/httpx"
	"github.com/cdnmetrics/cdnmetrics/internal/schema"
)

// grace is added to AggregateDelay before a bucket is closed.
const grace = 2

// keepEmitted is how many emitted buckets are kept to absorb late seconds.
const keepEmitted = 3

// bucket is one resolution interval of one service.
type bucket struct {
	start   int64
	pops    map[string]*schema.Counts
	all     schema.Counts
	emitted bool
}

// aggregator turns real-time seconds into resolution buckets. It holds the
// open buckets plus the last few emitted ones, never more.
type aggregator struct {
	service string
	res     int64
	buckets map[int64]*bucket
}

func newAggregator(service string, res time.Duration) *aggregator {
	return &aggregator{service: service, res: int64(res / time.Second), buckets: map[int64]*bucket{}}
}

// add folds one response in and returns the records of every bucket that
// is due for (re-)emission: closed by the stream clock now - delay - grace,
// or already emitted and changed by a late second.
func (a *aggregator) add(ans *rtAnswer) (recs []schema.Record, skipped []string) {
	changed := map[int64]bool{}
	for i := range ans.Data {
		d := &ans.Data[i]
		if d.Recorded <= 0 {
			skipped = append(skipped, fmt.Sprintf("record %d has no recorded time", i))
			continue
		}
		if err := d.Aggregated.check(); err != nil {
			skipped = append(skipped, fmt.Sprintf("second %d: %v", d.Recorded, err))
			continue
		}
		start := d.Recorded - d.Recorded%a.res
		b := a.buckets[start]
		if b == nil {
			if a.tooOld(start) {
				skipped = append(skipped, fmt.Sprintf("second %d arrived after its bucket was dropped", d.Recorded))
				continue
			}
			b = &bucket{start: start, pops: map[string]*schema.Counts{}}
			a.buckets[start] = b
		}
		d.Aggregated.add(&b.all)
		for pop, st := range d.Datacenter {
			if st.check() != nil {
				continue // the aggregate was fine; one POP's nonsense costs only that POP
			}
			c := b.pops[pop]
			if c == nil {
				c = &schema.Counts{}
				b.pops[pop] = c
			}
			st.add(c)
		}
		changed[start] = true
	}
	clock := ans.Timestamp - ans.AggregateDelay - grace
	starts := make([]int64, 0, len(a.buckets))
	for s := range a.buckets {
		starts = append(starts, s)
	}
	sort.Slice(starts, func(i, j int) bool { return starts[i] < starts[j] })
	for _, s := range starts {
		b := a.buckets[s]
		closed := s+a.res <= clock
		if closed && (!b.emitted || changed[s]) {
			recs = append(recs, a.records(b)...)
			b.emitted = true
		}
	}
	a.prune()
	return recs, skipped
}

// tooOld reports a bucket start older than every bucket still kept.
func (a *aggregator) tooOld(start int64) bool {
	emitted := 0
	for s, b := range a.buckets {
		if b.emitted && s > start {
			emitted++
		}
	}
	return emitted >= keepEmitted
}

// prune drops emitted buckets beyond the newest keepEmitted.
func (a *aggregator) prune() {
	var emitted []int64
	for s, b := range a.buckets {
		if b.emitted {
			emitted = append(emitted, s)
		}
	}
	if len(emitted) <= keepEmitted {
		return
	}
	sort.Slice(emitted, func(i, j int) bool { return emitted[i] > emitted[j] })
	for _, s := range emitted[keepEmitted:] {
		delete(a.buckets, s)
	}
}

func (a *aggregator) records(b *bucket) []schema.Record {
	recs := make([]schema.Record, 0, len(b.pops)+1)
	recs = append(recs, schema.Record{Provider: "fastly", Service: a.service, Location: schema.LocationAll, Start: b.start, Step: a.res, Counts: b.all})
	for pop, c := range b.pops {
		recs = append(recs, schema.Record{Provider: "fastly", Service: a.service, Location: pop, Start: b.start, Step: a.res, Counts: *c})
	}
	return recs
}

// parseRT decodes one real-time response: the fast scanner, or
// encoding/json when the scanner declines (escapes, odd shapes, errors).
func parseRT(body []byte) (*rtAnswer, error) {
	if a, err := decodeRT(body); err == nil {
		return a, nil
	}
	var a rtAnswer
	if err := json.NewDecoder(bytes.NewReader(body)).Decode(&a); err != nil {
		return nil, fmt.Errorf("decode: %w (body starts %q)", err, head(body))
	}
	return &a, nil
}

// Stream implements collectors.Streamer: one subscriber per service.
func (c *Collector) Stream(ctx context.Context, e collectors.Emitter) error {
	svcs, err := c.resolve(ctx)
	if err != nil {
		return err
	}
	var wg sync.WaitGroup
	running := map[string]context.CancelFunc{}
	start := func(s service) {
		sctx, cancel := context.WithCancel(ctx)
		running[s.id] = cancel
		wg.Add(1)
		go func() {
			defer wg.Done()
			c.subscribe(sctx, s, e)
		}()
	}
	for _, s := range svcs {
		start(s)
	}
	// Re-discover now and then: new services start, removed ones stop,
	// version changes become events (in resolve).
	t := time.NewTicker(refreshEvery)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			for _, cancel := range running {
				cancel()
			}
			wg.Wait()
			return ctx.Err()
		case <-t.C:
			svcs, err := c.resolve(ctx)
			if err != nil {
				c.logger.Warn("service refresh failed", "err", err)
				continue
			}
			want := map[string]bool{}
			for _, s := range svcs {
				want[s.id] = true
				if running[s.id] == nil {
					c.logger.Info("new service, subscribing", "service", s.name)
					start(s)
				}
			}
			for id, cancel := range running {
				if !want[id] {
					cancel()
					delete(running, id)
				}
			}
		}
	}
}

// subscribe follows one service's real-time channel until ctx ends.
func (c *Collector) subscribe(ctx context.Context, s service, e collectors.Emitter) {
	agg := newAggregator(s.name, time.Duration(c.o.Resolution))
	ts := int64(0)
	base := strings.TrimRight(c.o.RTURL, "/") + "/v1/channel/" + url.PathEscape(s.id) + "/ts/"
	backoff := time.Second
	for ctx.Err() == nil {
		resp, err := c.rt.Do(ctx, httpx.Request{URL: base + strconv.FormatInt(ts, 10), Header: c.header(), Endpoint: "GET /v1/channel/ts"})
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			wait := backoff
			var he *httpx.Error
			if errors.As(err, &he) && (he.Status == 401 || he.Status == 403) {
				wait = 2 * time.Minute // a bad token will not heal in a second
			}
			c.logger.Warn("real-time request failed", "service", s.name, "err", err, "retry_in", wait)
			sleep(ctx, wait+time.Duration(rand.Int64N(int64(wait)/4+1)))
			backoff = min(backoff*2, time.Minute)
			continue
		}
		backoff = time.Second
		ans, err := parseRT(resp.Body)
		if err != nil {
			c.logger.Warn("bad real-time response skipped", "service", s.name, "err", err)
			sleep(ctx, time.Second)
			continue
		}
		if ans.Timestamp > 0 {
			ts = ans.Timestamp
		}
		recs, skipped := agg.add(ans)
		for _, sk := range skipped {
			c.logger.Warn("bad real-time second skipped", "service", s.name, "reason", sk)
		}
		if len(recs) > 0 {
			if err := e.Emit(ctx, collectors.Batch{Records: recs}); err != nil {
				return
			}
		}
		if len(ans.Data) == 0 {
			// "No data available, please retry": the long poll already
			// waited; pause briefly so an empty channel is not hammered.
			sleep(ctx, time.Second)
		}
	}
}

func sleep(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}
