// Package httpx is the one HTTP client every collector uses: an overall
// deadline per request, per-attempt timeouts, retries with exponential backoff and full jitter on 5xx,
// timeouts and connection resets, 429 and Retry-After honoured, vendor
// rate-limit headers read, a per-vendor request budget, capped response
// bodies and errors that name the vendor, endpoint and status but never a
// credential. Each vendor has its own Client, so a slow or throttled vendor
// only ever waits on itself.
package httpx

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"strings"
	"syscall"
	"time"

	"golang.org/x/time/rate"

	"github.com/cdnmetrics/cdnmetrics/internal/backoff"
	"github.com/cdnmetrics/cdnmetrics/internal/redact"
)

// Client sends requests to one vendor.
type Client struct {
	vendor      string
	http        *http.Client
	limiter     *rate.Limiter
	maxRetries  int
	baseDelay   time.Duration
	maxDelay    time.Duration
	maxWait     time.Duration
	timeout     time.Duration
	deadline    time.Duration
	maxBody     int64
	logger      *slog.Logger
	rateHeaders func(http.Header, time.Time) (wait time.Duration, ok bool)
	prepare     func(*http.Request) error
	now         func() time.Time
	sleep       func(context.Context, time.Duration) error
}

// Option configures a Client.
type Option func(*Client)

// WithHTTPClient sets the transport. By default, a client with keep-alives
// and no overall timeout (each attempt has its own, see WithTimeout).
func WithHTTPClient(h *http.Client) Option { return func(c *Client) { c.http = h } }

// WithRate sets the request budget: r requests per second with bursts of b.
// By default, unlimited.
func WithRate(r float64, b int) Option {
	return func(c *Client) { c.limiter = rate.NewLimiter(rate.Limit(r), b) }
}

// WithRetries sets how many times a request is retried after the first
// attempt. By default, 4.
func WithRetries(n int) Option { return func(c *Client) { c.maxRetries = n } }

// WithBackoff sets the first retry delay and the cap. By default, 500ms and 30s.
func WithBackoff(base, max time.Duration) Option {
	return func(c *Client) { c.baseDelay, c.maxDelay = base, max }
}

// WithMaxWait caps how long a Retry-After or rate-limit reset is honoured
// before the request fails instead. By default, 5 minutes.
func WithMaxWait(d time.Duration) Option { return func(c *Client) { c.maxWait = d } }

// WithTimeout sets the per-attempt timeout. By default, 30s.
func WithTimeout(d time.Duration) Option { return func(c *Client) { c.timeout = d } }

// DefaultDeadline is the overall deadline of one request when WithDeadline
// is not given (or given 0).
const DefaultDeadline = 60 * time.Second

// WithDeadline bounds one request as a whole: every attempt, every backoff
// and every wait the vendor asks for (Retry-After), from the first attempt
// to the last byte read. A vendor that trickles its answer, or fails slowly
// again and again, costs at most d; a retry that could only start after d
// is not made. Waiting for the client's own budget (WithRate) and the pause
// after a vendor reports its budget spent (WithRateHeaders) hold the next
// request, not this one, and are not counted. By default (or d <= 0),
// DefaultDeadline.
func WithDeadline(d time.Duration) Option {
	return func(c *Client) {
		if d <= 0 {
			d = DefaultDeadline
		}
		c.deadline = d
	}
}

// WithMaxBody caps the response body read. By default, 64 MiB.
func WithMaxBody(n int64) Option { return func(c *Client) { c.maxBody = n } }

// WithLogger sets the logger. By default, slog.Default().
func WithLogger(l *slog.Logger) Option { return func(c *Client) { c.logger = l } }

// WithRateHeaders sets the reader of the vendor's rate-limit headers: it
// returns how long to wait before the next request when the budget is spent.
func WithRateHeaders(f func(h http.Header, now time.Time) (time.Duration, bool)) Option {
	return func(c *Client) { c.rateHeaders = f }
}

// WithPrepare sets a hook run on every attempt's request just before it is
// sent (request signing that must be fresh per attempt, e.g. EdgeGrid).
func WithPrepare(f func(*http.Request) error) Option { return func(c *Client) { c.prepare = f } }

// WithClock replaces time for tests.
func WithClock(now func() time.Time, sleep func(context.Context, time.Duration) error) Option {
	return func(c *Client) { c.now, c.sleep = now, sleep }
}

// New returns a client for vendor.
func New(vendor string, opts ...Option) *Client {
	c := &Client{
		vendor:     vendor,
		http:       &http.Client{},
		maxRetries: 4,
		baseDelay:  500 * time.Millisecond,
		maxDelay:   30 * time.Second,
		maxWait:    5 * time.Minute,
		timeout:    30 * time.Second,
		deadline:   DefaultDeadline,
		maxBody:    64 << 20,
		logger:     slog.Default(),
		now:        time.Now,
		sleep:      sleepCtx,
	}
	for _, o := range opts {
		o(c)
	}
	return c
}

// Vendor returns the vendor name the client was made for.
func (c *Client) Vendor() string { return c.vendor }

// Request is one call. Body is resent on every attempt.
type Request struct {
	Method string
	URL    string
	Header http.Header
	Body   []byte
	// Endpoint names the call in errors and logs ("GET /stats/service");
	// by default, the method and the URL path without the query.
	Endpoint string
	// OK lists the statuses that are answers, not errors. By default, 200.
	OK []int
	// Buffer, when set, supplies the buffer the answer's body is read
	// into, once its headers have arrived: n is the announced length + 1,
	// or 0 when none was announced. The returned slice's length is ignored
	// and its capacity used first (it grows by append when too small).
	// With it a caller that polls big answers (the Fastly real-time
	// stream) recycles one buffer per answer being read instead of
	// allocating, faulting in and collecting a fresh one per answer; taken
	// only when the body arrives, it is not held while a long poll waits.
	// The caller owns Response.Body afterwards (errors hold copies).
	Buffer func(n int) []byte
}

// Response is a read, capped response.
type Response struct {
	Status int
	Header http.Header
	Body   []byte
	// sent is the request's headers as sent, after WithPrepare (which
	// may add credentials, e.g. an EdgeGrid signature).
	sent http.Header
}

// Error is a failed call. Its message names vendor, endpoint and status and
// quotes at most 200 bytes of the body; it never holds request headers.
type Error struct {
	Vendor   string
	Endpoint string
	Status   int    // 0 when no response arrived
	Body     string // start of the body, sanitised
	// Raw is the body's first 16 KiB, credentials redacted, for vendor
	// packages that parse structured errors (problem+json); never printed.
	Raw      []byte
	Err      error // transport error, if any
	Attempts int
}

func (e *Error) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s: %s", e.Vendor, e.Endpoint)
	if e.Status != 0 {
		fmt.Fprintf(&b, ": HTTP %d", e.Status)
	}
	if e.Err != nil {
		fmt.Fprintf(&b, ": %v", e.Err)
	}
	if e.Body != "" {
		fmt.Fprintf(&b, ": %q", e.Body)
	}
	if e.Attempts > 1 {
		fmt.Fprintf(&b, " (after %d attempts)", e.Attempts)
	}
	return b.String()
}

func (e *Error) Unwrap() error { return e.Err }

// ErrBodyTooLarge is returned when a response exceeds the body cap.
var ErrBodyTooLarge = errors.New("response body over size limit")

// ErrDeadline is wrapped by the error of a request that did not complete
// within its overall deadline (see WithDeadline).
var ErrDeadline = errors.New("request deadline reached")

// Do sends r, retrying as documented on the package.
func (c *Client) Do(ctx context.Context, r Request) (*Response, error) {
	if r.Method == "" {
		r.Method = http.MethodGet
	}
	if r.Endpoint == "" {
		r.Endpoint = r.Method + " " + pathOf(r.URL)
	}
	var last *Error
	// The deadline starts with the first attempt, after the client's own
	// budget let it go: time spent queueing behind our own rate limit is
	// not the vendor's.
	var deadline time.Time
	actx := ctx
	// Full jitter, keeping at least half so retries do not bunch at 0.
	delays := backoff.New(c.baseDelay, c.maxDelay, 0.5, 1)
	for attempt := 0; ; attempt++ {
		if c.limiter != nil {
			if err := c.limiter.Wait(ctx); err != nil {
				return nil, &Error{Vendor: c.vendor, Endpoint: r.Endpoint, Err: err, Attempts: attempt}
			}
		}
		if deadline.IsZero() {
			deadline = c.now().Add(c.deadline)
			var cancel context.CancelFunc
			actx, cancel = context.WithTimeout(ctx, c.deadline)
			defer cancel()
		}
		resp, err := c.once(actx, r)
		var wait time.Duration
		retry := false
		switch {
		case err != nil:
			last = &Error{Vendor: c.vendor, Endpoint: r.Endpoint, Err: redactErr(err), Attempts: attempt + 1}
			if actx.Err() != nil && ctx.Err() == nil {
				last.Err = c.deadlineErr(last.Err)
			}
			retry = actx.Err() == nil && retryable(err)
		case okStatus(resp.Status, r.OK):
			if c.rateHeaders != nil {
				if w, ok := c.rateHeaders(resp.Header, c.now()); ok && w > 0 {
					// The budget is spent: hold this vendor's next request.
					c.logger.Info("rate limit reached, pausing", "vendor", c.vendor, "endpoint", r.Endpoint, "wait", w)
					_ = c.sleep(ctx, min(w, c.maxWait))
				}
			}
			return resp, nil
		default:
			// Redact before cutting, so that no credential is cut short
			// of recognition.
			raw := redactSecrets(string(resp.Body[:min(len(resp.Body), 16<<10)]), resp.sent)
			last = &Error{Vendor: c.vendor, Endpoint: r.Endpoint, Status: resp.Status, Body: snippet([]byte(raw)),
				Raw: []byte(raw), Attempts: attempt + 1}
			switch {
			case resp.Status == http.StatusTooManyRequests:
				retry = true
				wait = retryAfter(resp.Header, c.now())
				if c.rateHeaders != nil {
					if w, ok := c.rateHeaders(resp.Header, c.now()); ok && w > wait {
						wait = w
					}
				}
			case resp.Status >= 500:
				retry = true
				wait = retryAfter(resp.Header, c.now())
			}
		}
		if !retry || attempt >= c.maxRetries {
			return nil, last
		}
		// Drawn every attempt so the delay doubles per attempt even when the
		// vendor's Retry-After decided the earlier waits.
		if next := delays.NextBackOff(); wait == 0 {
			wait = next
		}
		if wait > c.maxWait {
			last.Err = fmt.Errorf("vendor asked to wait %v, more than the %v allowed", wait.Round(time.Second), c.maxWait)
			return nil, last
		}
		if c.now().Add(wait).After(deadline) {
			// Sleeping into the deadline would only delay the same failure.
			last.Err = c.deadlineErr(fmt.Errorf("next attempt due in %v, after it", wait.Round(time.Millisecond)))
			return nil, last
		}
		c.logger.Warn("retrying vendor request", "vendor", c.vendor, "endpoint", r.Endpoint, "status", last.Status, "attempt", attempt+1, "wait", wait.Round(time.Millisecond), "err", last.Err)
		if err := c.sleep(actx, wait); err != nil {
			last.Err = err
			if ctx.Err() == nil {
				last.Err = c.deadlineErr(err)
			}
			return nil, last
		}
	}
}

// deadlineErr says that err ended the request because its overall
// deadline passed; errors.Is finds both ErrDeadline and err's own cause.
func (c *Client) deadlineErr(err error) error {
	return fmt.Errorf("%w (%v over all attempts): %w", ErrDeadline, c.deadline, err)
}

func (c *Client) once(ctx context.Context, r Request) (*Response, error) {
	actx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	var body io.Reader
	if r.Body != nil {
		body = bytes.NewReader(r.Body)
	}
	req, err := http.NewRequestWithContext(actx, r.Method, r.URL, body)
	if err != nil {
		return nil, err
	}
	for k, vs := range r.Header {
		req.Header[k] = vs
	}
	if c.prepare != nil {
		if err := c.prepare(req); err != nil {
			return nil, fmt.Errorf("prepare request: %w", err)
		}
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	data, err := readBodyInto(resp, c.maxBody, r.Buffer)
	if err != nil {
		return nil, err
	}
	if int64(len(data)) > c.maxBody {
		return nil, fmt.Errorf("%w (%d bytes)", ErrBodyTooLarge, c.maxBody)
	}
	return &Response{Status: resp.StatusCode, Header: resp.Header, Body: data, sent: req.Header}, nil
}

func okStatus(s int, ok []int) bool {
	if len(ok) == 0 {
		return s == http.StatusOK
	}
	for _, o := range ok {
		if s == o {
			return true
		}
	}
	return false
}

// retryable reports transport errors worth another attempt: timeouts,
// resets, refused connections and truncated responses.
func retryable(err error) bool {
	if errors.Is(err, ErrBodyTooLarge) {
		return false
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return true
	}
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) ||
		errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.EPIPE) {
		return true
	}
	var oe *net.OpError
	return errors.As(err, &oe)
}

// retryAfter reads Retry-After as seconds or an HTTP date.
func retryAfter(h http.Header, now time.Time) time.Duration {
	v := strings.TrimSpace(h.Get("Retry-After"))
	if v == "" {
		return 0
	}
	if s, err := strconv.ParseFloat(v, 64); err == nil && s >= 0 {
		return time.Duration(s * float64(time.Second))
	}
	if t, err := http.ParseTime(v); err == nil {
		if d := t.Sub(now); d > 0 {
			return d
		}
	}
	return 0
}

func pathOf(u string) string {
	if i := strings.Index(u, "://"); i >= 0 {
		u = u[i+3:]
		if j := strings.IndexByte(u, '/'); j >= 0 {
			u = u[j:]
		} else {
			u = "/"
		}
	}
	if i := strings.IndexAny(u, "?#"); i >= 0 {
		u = u[:i]
	}
	return u
}

// redactErr drops the URL (and with it any query string) from url.Error, so a
// transport error never carries more than the endpoint name already says,
// and redacts what is left (a proxy's message may quote credentials).
func redactErr(err error) error {
	var ue interface{ Unwrap() error }
	if errors.As(err, &ue) {
		if inner := ue.Unwrap(); inner != nil && strings.HasPrefix(fmt.Sprintf("%T", err), "*url.Error") {
			return redact.Error(inner)
		}
	}
	return redact.Error(err)
}

// redactSecrets removes credentials from s (a vendor's answer): the
// values of the credential headers sent (a vendor or a proxy that echoes
// the request must not put the token into an error) and whatever
// redact.String recognises.
func redactSecrets(s string, h http.Header) string {
	var sent []string
	for name, vs := range h {
		n := strings.ToLower(name)
		if strings.Contains(n, "auth") || strings.Contains(n, "key") || strings.Contains(n, "token") || strings.Contains(n, "secret") || strings.Contains(n, "cookie") {
			sent = append(sent, vs...)
		}
	}
	return redact.String(s, sent...)
}

func snippet(b []byte) string {
	const max = 200
	s := strings.TrimSpace(string(b))
	if len(s) > max {
		s = s[:max] + "…"
	}
	return strings.Map(func(r rune) rune {
		if r < 0x20 {
			return ' '
		}
		return r
	}, s)
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// readBody reads at most max+1 bytes. When the length is announced, the
// buffer is allocated once at that size (io.ReadAll would grow it by
// doubling, leaving about as much garbage as the body again).
func readBody(resp *http.Response, max int64) ([]byte, error) {
	return readBodyInto(resp, max, nil)
}

// readBodyInto is readBody into a buffer from get (see Request.Buffer);
// nil get allocates as readBody describes.
func readBodyInto(resp *http.Response, max int64, get func(int) []byte) ([]byte, error) {
	r := io.LimitReader(resp.Body, max+1)
	n := resp.ContentLength
	var buf []byte
	switch {
	case get != nil && n > 0 && n <= max:
		buf = get(int(n + 1))[:0]
	case get != nil:
		buf = get(0)[:0]
	case n <= 0 || n > max:
		return io.ReadAll(r)
	default:
		buf = make([]byte, 0, n+1) // +1: a body longer than announced shows
	}
	for {
		if len(buf) == cap(buf) && get != nil {
			// Unknown or wrong length into a recycled buffer: grow it.
			buf = append(buf, 0)[:len(buf)]
		}
		if len(buf) == cap(buf) {
			rest, err := io.ReadAll(r)
			return append(buf, rest...), err
		}
		m, err := r.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+m]
		if err == io.EOF {
			return buf, nil
		}
		if err != nil {
			return buf, err
		}
	}
}
