package probe

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptrace"
	"net/url"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cdnmetrics/cdnmetrics/collectors"
)

const (
	maxBody   = 16 << 20 // read at most this much of a body
	userAgent = "cdnmetrics-probe/1"
)

// Collector probes the configured targets.
type Collector struct {
	opts    *Options
	log     *slog.Logger
	client  *http.Client
	step    int64
	now     func() time.Time
	clock   collectors.Clock // counts renamed POPs
	mu      sync.Mutex
	renamed map[string]bool // POP locations renamed and warned about
}

// New builds the collector. When env.HTTPClient has an *http.Transport it
// is cloned (keep-alives off), else the default transport's settings are.
func New(o *Options, env collectors.Env) *Collector {
	log := env.Logger
	if log == nil {
		log = slog.Default()
	}
	base, _ := http.DefaultTransport.(*http.Transport)
	if env.HTTPClient != nil {
		if t, ok := env.HTTPClient.Transport.(*http.Transport); ok {
			base = t
		}
	}
	tr := base.Clone()
	tr.DisableKeepAlives = true // every probe pays DNS, TCP and TLS, as curl does
	return &Collector{
		opts: o,
		log:  log.With("collector", Name),
		client: &http.Client{Transport: tr, CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse
		}},
		step:    int64(o.Step / time.Second),
		now:     time.Now,
		clock:   env.Clock,
		renamed: map[string]bool{},
	}
}

// result is one probe's outcome.
type result struct {
	start       time.Time
	ok          bool
	answered    bool
	ttfb, total time.Duration
	hit, known  bool
	pop         string
}

// Collect probes every target now (w is not used: a probe measures the
// present) and emits one batch. Failed targets are data (probe_ok 0), not
// errors; Collect fails only when the batch cannot be emitted.
func (c *Collector) Collect(ctx context.Context, _ collectors.Window, e collectors.Emitter) error {
	results := make([]result, len(c.opts.Targets))
	sem := make(chan struct{}, max(1, c.opts.Concurrency))
	var wg sync.WaitGroup
	for i := range c.opts.Targets {
		wg.Add(1)
		go func() {
			defer wg.Done()
			select {
			case sem <- struct{}{}:
			case <-ctx.Done():
				results[i] = result{start: c.now()}
				return
			}
			defer func() { <-sem }()
			results[i] = c.probe(ctx, &c.opts.Targets[i])
		}()
	}
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("probe: %w", err)
	}
	var b collectors.Batch
	for i := range results {
		b.Gauges = append(b.Gauges, c.gauges(&c.opts.Targets[i], &results[i])...)
	}
	if err := e.Emit(ctx, b); err != nil {
		return fmt.Errorf("probe: emit: %w", err)
	}
	return nil
}

// probe requests one target.
func (c *Collector) probe(ctx context.Context, t *Target) result {
	r := result{start: c.now()}
	ctx, cancel := context.WithTimeout(ctx, c.opts.Timeout)
	defer cancel()
	began := time.Now()
	var ttfb atomic.Int64
	ctx = httptrace.WithClientTrace(ctx, &httptrace.ClientTrace{
		GotFirstResponseByte: func() { ttfb.Store(int64(time.Since(began))) },
	})
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, t.URL, nil)
	if err != nil {
		c.fail(t, redactErr(err))
		return r
	}
	if t.Host != "" {
		req.Host = t.Host
	}
	req.Header.Set("User-Agent", userAgent)
	resp, err := c.client.Do(req)
	if err != nil {
		c.fail(t, redactErr(err))
		return r
	}
	_, err = io.Copy(io.Discard, io.LimitReader(resp.Body, maxBody))
	resp.Body.Close()
	r.total = time.Since(began)
	r.ttfb = time.Duration(ttfb.Load())
	r.answered = true
	r.hit, r.known = cacheVerdict(resp.Header)
	r.pop = popOf(resp.Header)
	switch {
	case err != nil:
		c.fail(t, fmt.Errorf("read body: %w", redactErr(err)))
	case t.ExpectStatus != 0 && resp.StatusCode != t.ExpectStatus:
		c.fail(t, fmt.Errorf("status %d, expected %d", resp.StatusCode, t.ExpectStatus))
	case t.ExpectStatus == 0 && resp.StatusCode >= 400:
		c.fail(t, fmt.Errorf("status %d", resp.StatusCode))
	default:
		r.ok = true
	}
	return r
}

func (c *Collector) fail(t *Target, err error) {
	c.log.Warn("probe failed", "provider", t.Provider, "service", t.Service, "url", safeURL(t.URL), "err", err)
}

// safeURL drops the user info and the query, which may hold tokens.
func safeURL(s string) string {
	u, err := url.Parse(s)
	if err != nil {
		return "(unparsable url)"
	}
	u.User, u.RawQuery, u.Fragment = nil, "", ""
	return u.String()
}

// redactErr strips the URL net/http puts in its errors (it may carry a
// token in its query) and keeps the cause.
func redactErr(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		if errors.Is(ue.Err, context.DeadlineExceeded) {
			return errors.New("timed out")
		}
		return fmt.Errorf("%s: %w", ue.Op, ue.Err)
	}
	return err
}
