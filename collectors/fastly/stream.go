package fastly

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"net/url"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/cdnmetrics/cdnmetrics/collectors"
	"github.com/cdnmetrics/cdnmetrics/internal/backoff"
	"github.com/cdnmetrics/cdnmetrics/internal/httpx"
	"github.com/cdnmetrics/cdnmetrics/internal/schema"
)

// Stream backoffs. A refused token will not heal within seconds; other
// failures back off exponentially; both waits get up to +25 % jitter so many
// subscribers do not retry in step.
const (
	authBackoff = 2 * time.Minute
	minBackoff  = time.Second
	maxBackoff  = time.Minute
	// futureWarnEvery rate-limits the warning about times ahead of our
	// clock: a vendor (or our) clock that is off stays so for every answer.
	futureWarnEvery = time.Minute
)

// Stream implements collectors.Streamer: one subscriber goroutine per
// service follows the real-time API until ctx ends. Every refreshEvery the
// service list is re-read: new services start, removed ones stop, and
// version changes become cdn-config events.
func (c *Collector) Stream(ctx context.Context, e collectors.Emitter) error {
	svcs, err := c.resolve(ctx, false)
	if err != nil {
		return err
	}
	c.sizeRTWindow(len(svcs))
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
		c.startInspectors(sctx, s, e, &wg)
	}
	for _, s := range svcs {
		start(s)
	}
	t := time.NewTicker(c.refresh)
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
			svcs, err := c.resolve(ctx, true)
			if err != nil {
				c.logger.Warn("fastly service refresh failed; keeping the running subscribers", "err", err)
				continue
			}
			want := map[string]bool{}
			for _, s := range svcs {
				want[s.id] = true
				if running[s.id] == nil {
					c.logger.Info("fastly service added, subscribing", "service", s.name)
					start(s)
				}
			}
			for id, cancel := range running {
				if !want[id] {
					c.logger.Info("fastly service gone, unsubscribing", "service_id", id)
					cancel()
					delete(running, id)
				}
			}
		}
	}
}

// subscribe follows one service's real-time channel until ctx ends: it
// starts at ts 0 (the newest second) and then always passes back the
// Timestamp Fastly returned.
func (c *Collector) subscribe(ctx context.Context, s service, e collectors.Emitter) {
	agg := newAggregator(s.name, time.Duration(c.o.Resolution))
	agg.ours = c.env.Clock
	base := strings.TrimRight(c.o.RTURL, "/") + "/v1/channel/" + url.PathEscape(s.id) + "/ts/"
	ts := int64(0)
	retry := backoff.New(minBackoff, maxBackoff, 1, 1.25)
	// The same wait every time (first == cap), jittered.
	authRetry := backoff.New(authBackoff, authBackoff, 1, 1.25)
	refused := false // a 401/403 was logged; stay quiet until it heals
	var future futureWarn
	log := c.logger.With("service", s.name)
	// An answer's body is read and decoded holding one of rtReaders' slots
	// (taken when its headers are in, given back once it is decoded): see
	// rtReaders. held is only touched by this goroutine (httpx reads the
	// body in the caller's goroutine).
	held := false
	buffer := func(n int) []byte {
		if !held {
			select {
			case rtReaders <- struct{}{}:
				held = true
			case <-ctx.Done():
				return nil // the request is cancelled anyway
			}
		}
		return rtBuffer(n)
	}
	done := func(body []byte) {
		recycleRT(body)
		if held {
			<-rtReaders
			held = false
		}
	}
	for ctx.Err() == nil {
		resp, err := c.rt.Do(ctx, httpx.Request{URL: base + strconv.FormatInt(ts, 10), Header: c.header(), Endpoint: "GET /v1/channel/{id}/ts",
			Buffer: buffer})
		if err != nil {
			done(nil)
			if ctx.Err() != nil {
				return
			}
			var he *httpx.Error
			if errors.As(err, &he) && (he.Status == http.StatusUnauthorized || he.Status == http.StatusForbidden) {
				if !refused {
					log.Error("fastly real-time API refused the token; retrying every 2m", "err", err)
					refused = true
				} else {
					log.Debug("fastly real-time API still refuses the token", "err", err)
				}
				c.sleep(ctx, authRetry.NextBackOff())
				continue
			}
			wait := retry.NextBackOff()
			log.Warn("fastly real-time request failed", "err", err, "retry_in", wait.Round(time.Millisecond))
			c.sleep(ctx, wait)
			continue
		}
		if refused {
			log.Info("fastly real-time API accepts the token again")
			refused = false
		}
		retry.Reset()
		frame := getRTFrame()
		if err := decodeRT(resp.Body, frame); err != nil {
			log.Warn("bad fastly real-time response skipped", "err", err, "body_start", head(resp.Body))
			putRTFrame(frame)
			done(resp.Body)
			c.sleep(ctx, c.idle)
			continue
		}
		res := agg.fold(frame)
		switch {
		case res.futureTimestamp != 0:
			// Asking from a Timestamp in the future would return nothing
			// until then: ask from our clock, Fastly's best estimate.
			ts = c.env.Clock.Time().Unix()
		case frame.hasTimestamp && frame.timestamp > 0:
			ts = frame.timestamp
		}
		noData := len(frame.records) == 0
		putRTFrame(frame) // before Emit, which may block on a full queue
		done(resp.Body)
		if res.future > 0 || res.futureTimestamp != 0 {
			c.rejectFuture(log, res, &future)
		}
		if len(res.skipped) > 0 {
			// One line per response, however many seconds or POPs were bad.
			log.Warn("fastly real-time data skipped", "count", len(res.skipped), "first", res.skipped[0])
			c.env.Clock.Count(collectors.RejectedValues, len(res.skipped))
		}
		for _, pop := range res.renamed {
			// Once per POP and subscriber: the aggregator interns the name.
			log.Warn("fastly real-time POP named like a reserved location; written under another name", "pop", pop, "location", "pop_"+schema.Sanitize(pop))
		}
		c.env.Clock.Count(collectors.RenamedLocations, len(res.renamed))
		for _, p := range res.partial {
			log.Info("first fastly real-time bucket after subscribing is incomplete; not emitted", "bucket", p)
		}
		if len(res.write) > 0 {
			// One of rtEmitters' slots while the batch becomes points and
			// waits for the sink (see rtEmitters).
			select {
			case rtEmitters <- struct{}{}:
			case <-ctx.Done():
				return
			}
			err := e.Emit(ctx, collectors.Batch{Records: agg.records(res.write...)})
			<-rtEmitters
			if err != nil {
				if ctx.Err() == nil {
					log.Error("emitter refused fastly real-time batch; subscriber stops", "err", err)
				}
				return
			}
		}
		if noData {
			// "No data available, please retry" (HTTP 200, Data []): not an
			// error. The long poll already waited; the answer is cached for
			// 1 s, so pause that long instead of hammering it.
			c.sleep(ctx, c.idle)
		}
	}
}

// rtBodies recycles real-time answer bodies between all subscribers. A
// busy service's answer is ~365 kB every second: allocated fresh each time,
// the page faults of touching new memory, zeroing it and collecting it cost
// about as much CPU as decoding it (README "Benchmarks"). A buffer is taken
// only when an answer's body arrives and given back once the answer is
// decoded and the frame released, so the pool holds about as many buffers
// as answers are read at once, not one per service (most subscribers are
// waiting in their long poll).
var rtBodies sync.Pool // of *[]byte

// maxRecycledRT caps the buffers kept: an outsized answer's buffer is left
// to the garbage collector rather than pinned in the pool.
const maxRecycledRT = 4 << 20

// rtBuffer is httpx.Request.Buffer for real-time answers: a recycled
// buffer of at least n bytes, or a new one.
func rtBuffer(n int) []byte {
	if p, ok := rtBodies.Get().(*[]byte); ok {
		if cap(*p) >= n {
			return (*p)[:0]
		}
		// Too small for this answer: dropped; the pool converges on
		// buffers that fit the biggest answers.
	}
	return make([]byte, 0, n)
}

// recycleRT gives a decoded answer's body back; nothing may refer to it
// any more (frame.release has run).
func recycleRT(b []byte) {
	if cap(b) == 0 || cap(b) > maxRecycledRT {
		return
	}
	b = b[:0]
	rtBodies.Put(&b)
}

// rtFrames recycles decoded real-time frames between all subscribers, as
// rtBodies does bodies: a frame (~20 kB for 100 POPs) is needed only from
// decoding an answer to folding it into the service's buckets, while a
// reader slot is held, so a thousand subscribers need about as many frames
// as there are reader slots, not one each (20 MB of live heap at 1 000
// services, README "Benchmarks").
var rtFrames sync.Pool // of *rtFrame

func getRTFrame() *rtFrame {
	if f, ok := rtFrames.Get().(*rtFrame); ok {
		return f
	}
	return new(rtFrame)
}

// putRTFrame releases f's references into its body and gives it back.
func putRTFrame(f *rtFrame) {
	f.release()
	rtFrames.Put(f)
}

// rtReaders bounds the answers read and decoded at once, across all
// subscribers. Fastly answers every service's long poll in the same
// instant (each second), and HTTP/2 interleaves the answers on a few
// connections: unbounded, a thousand subscribers each took an answer-sized
// buffer and filled it in parallel — 1 000 × ~365 kB live at once, RSS
// 870 MiB. With the slots, the other answers wait in HTTP/2 flow control
// (at most a stream window each, see rtStreamWindow) until a reader is
// free. A slot is held for more than the decoding, though: the body of
// a waiting answer comes through its stream window (365 kB through 32 KiB
// at 1 000 services: about 11 flow-control round trips through the
// server), and a reader waiting for the next window is not using a core.
// (The figures below were measured with 64 KiB windows.)
// With 8 slots per core, 1 000 services left ~10 % of this 2-core machine
// idle and 30–80 answers a second unread; 16 per core kept up, and spent
// less CPU per answer (881–972 µs against 946–1 013, and the stand-in
// ~15 % less); 32 per core was no faster and held ~20 MB more. With 32 KiB
// windows, 24 per core read no more either in two capacity runs, and took
// more CPU per answer (README "Benchmarks").
var rtReaders = make(chan struct{}, 16*runtime.GOMAXPROCS(0))

// rtEmitters bounds the real-time batches being emitted at once. Every
// service's minute closes in the same second, so a thousand subscribers
// emit together; the pipeline turns each batch into points (~1 700 for 100
// POPs) before waiting for the sink, and a thousand such waiting batches
// were the largest part of the peak RSS at 1 000 services. Waiting here,
// a batch is only its buckets: its records are built once the slot is
// held (see fold).
var rtEmitters = make(chan struct{}, 2*runtime.GOMAXPROCS(0))

// HTTP/2 receive buffers of the real-time client: how much of an answer
// the server may send ahead of our reading it. Go's defaults (4 MiB per
// stream, 1 GiB per connection) let a thousand answers waiting for a
// reader slot sit whole in memory (1 000 × ~365 kB). A stream's window is
// therefore rtWindowBudget shared among the services, between 32 KiB and
// 1 MiB: answers waiting for a reader hold at most the budget. That is
// still the largest part of the heap at 1 000 services: Fastly answers
// every long poll in the same second, so nearly every stream holds a full
// window while ~32 are read. With 64 MiB (64 KiB windows) it was ~70–86
// MB of net/http's chunks (heap profiles), and RSS settled at 308–313 MiB
// on average (peaks 322–330); 32 MiB took the median live heap from ~165
// to ~136 MB and RSS to 258–261 MiB (peaks 275–281), for no more CPU per
// answer in interleaved runs on slow vCPUs (README "Benchmarks", K1–K4).
// On fast vCPUs 32 KiB took 941–967 µs per answer (M4, M5) against 831–880
// with 64 KiB (LB, LK), runs an hour apart: 7–16 % more. A small window
// costs CPU when answers are read: the transport acknowledges each read
// with a WINDOW_UPDATE frame, a TLS record written, and an answer needs
// more round trips through the server (see rtReaders); at 64 KiB that was
// ~+25 % CPU per answer at 100 services, where the window is now ~328 KiB
// (it was 655).
// The connection window stays Go's 1 GiB, far above the streams' sum:
// answers waiting for a reader must not use up the window of those being
// read.
const (
	rtWindowBudget = 32 << 20
	minRTWindow    = 32 << 10
	maxRTWindow    = 1 << 20
)

// rtStreamWindow is the HTTP/2 stream window for services subscribers.
func rtStreamWindow(services int) int {
	return min(max(rtWindowBudget/max(services, 1), minRTWindow), maxRTWindow)
}

// sizeRTWindow sets rt's stream window for the services about to be
// followed, once, before its first request (net/http reads the setting
// when it opens connections).
func (c *Collector) sizeRTWindow(services int) {
	c.rtSized.Do(func() {
		if c.rtTransport != nil && c.rtTransport.HTTP2 != nil {
			c.rtTransport.HTTP2.MaxReceiveBufferPerStream = rtStreamWindow(services)
		}
	})
}

// rtHTTPClient is base (or Go's default) on its own transport with the
// real-time stream window set (to the maximum until sizeRTWindow). A
// client whose transport is not an *http.Transport (a test's) is used as
// it is, and the transport returned is nil.
func rtHTTPClient(base *http.Client) (*http.Client, *http.Transport) {
	var t *http.Transport
	switch {
	case base == nil || base.Transport == nil:
		t = http.DefaultTransport.(*http.Transport).Clone()
	default:
		bt, ok := base.Transport.(*http.Transport)
		if !ok {
			return base, nil
		}
		t = bt.Clone()
	}
	h2 := http.HTTP2Config{}
	if t.HTTP2 != nil {
		h2 = *t.HTTP2
	}
	h2.MaxReceiveBufferPerStream = maxRTWindow
	t.HTTP2 = &h2
	c := &http.Client{Transport: t}
	if base != nil {
		c.CheckRedirect, c.Jar, c.Timeout = base.CheckRedirect, base.Jar, base.Timeout
	}
	return c, t
}

func sleepCtx(ctx context.Context, d time.Duration) {
	if d <= 0 {
		return
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}

// futureWarn rate-limits one subscriber's warnings about times ahead of
// our clock; the answers it kept quiet about are counted in the next one.
type futureWarn struct {
	last            time.Time
	quietAnswers    int
	quietRejections int
}

// rejectFuture counts what a real-time answer stamped ahead of our clock
// (seconds left out, a Timestamp ignored) and logs it: the first answer at
// once, then at most one line per futureWarnEvery.
func (c *Collector) rejectFuture(log *slog.Logger, res addResult, fw *futureWarn) {
	n := res.future
	if res.futureTimestamp != 0 {
		n++
	}
	c.env.Clock.Count(collectors.RejectedFuture, n)
	now := c.env.Clock.Time()
	if !fw.last.IsZero() && now.Sub(fw.last) < futureWarnEvery {
		fw.quietAnswers++
		fw.quietRejections += n
		return
	}
	args := []any{"seconds", res.future}
	if res.future > 0 {
		args = append(args, "newest_recorded", time.Unix(res.newestFuture, 0).UTC().Format(time.RFC3339))
	}
	if res.futureTimestamp != 0 {
		args = append(args, "timestamp", time.Unix(res.futureTimestamp, 0).UTC().Format(time.RFC3339))
	}
	args = append(args, "now", now.UTC().Format(time.RFC3339), "tolerance", c.env.Clock.Limit(now).Sub(now))
	if fw.quietAnswers > 0 {
		args = append(args, "since_last_warning_answers", fw.quietAnswers, "since_last_warning_rejected", fw.quietRejections)
	}
	log.Warn("fastly real-time times ahead of our clock rejected", args...)
	*fw = futureWarn{last: now}
}
