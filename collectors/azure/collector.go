package azure

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"

	"github.com/cdnmetrics/cdnmetrics/collectors"
	"github.com/cdnmetrics/cdnmetrics/internal/httpx"
	"github.com/cdnmetrics/cdnmetrics/internal/redact"
)

const (
	// publishDelay is how late Azure Monitor may publish a Front Door
	// minute ("up to 3 minutes"): younger empty minutes are not trusted.
	publishDelay = 3 * time.Minute
	// lowReads is the x-ms-ratelimit-remaining-subscription-reads below
	// which requests slow down.
	lowReads = 100
	// readRefill is how long ARM's subscription read budget takes to win
	// back one read at its smallest documented rate (12,000 an hour).
	readRefill = 300 * time.Millisecond
	// endpointName names the metrics call in errors and logs.
	endpointName = "GET /providers/Microsoft.Insights/metrics"
)

// Collector reads Front Door metrics from Azure Monitor.
type Collector struct {
	http     *httpx.Client
	api      string
	tokens   *tokens
	profiles []Profile
	env      collectors.Env
	only     collectors.Selection // backfill --service
	logger   *slog.Logger
	now      func() time.Time

	mu      sync.Mutex
	secrets []string // scrubbed from every error text
}

// New builds a collector from validated options.
func New(o *Options, env collectors.Env) (*Collector, error) {
	return build(o, env)
}

// build is New with extra client options (tests shorten waits).
func build(o *Options, env collectors.Env, extra ...httpx.Option) (*Collector, error) {
	sec, err := env.Secret(provider, "client_secret_file", o.ClientSecretFile, o.ClientSecretEnv)
	if err != nil {
		return nil, err
	}
	for _, u := range []struct{ key, v string }{{"api_url", o.APIURL}, {"token_url", o.tokenURL()}} {
		if err := collectors.CheckURL(u.v); err != nil {
			return nil, fmt.Errorf("%s: %s: %w", provider, u.key, err)
		}
	}
	logger := env.CollectorLogger(provider)
	c := &Collector{
		api:      strings.TrimRight(o.APIURL, "/"),
		profiles: append([]Profile(nil), o.Profiles...),
		env:      env,
		logger:   logger,
		now:      env.Clock.Time,
		secrets:  []string{sec},
	}
	// The token request is a vendor request too: it goes through the
	// configured transport (loopback in tests, proxies in production) and
	// request_timeout bounds it, body included.
	hc := env.TimedHTTPClient(o.RequestDeadline())
	c.tokens = &tokens{
		cc: &clientcredentials.Config{
			ClientID: strings.TrimSpace(o.ClientID), ClientSecret: sec, TokenURL: o.tokenURL(),
			Scopes: []string{scope},
			// The Microsoft identity platform takes the secret as a form
			// field (client_secret_post).
			AuthStyle: oauth2.AuthStyleInParams,
		},
		ctx:      context.WithValue(context.Background(), oauth2.HTTPClient, hc),
		url:      o.tokenURL(),
		now:      func() time.Time { return c.now() },
		remember: c.remember,
	}
	opts := append([]httpx.Option{httpx.WithRateHeaders(rateHeaders)}, extra...)
	c.http = env.VendorClient(provider, logger, o.RequestDeadline(), opts...)
	return c, nil
}

// rateHeaders reads ARM's remaining subscription reads: below lowReads the
// next request waits for the budget to refill by the shortfall. A 429's
// Retry-After is honoured by httpx itself.
func rateHeaders(h http.Header, _ time.Time) (time.Duration, bool) {
	v := h.Get("x-ms-ratelimit-remaining-subscription-reads")
	if v == "" {
		return 0, false
	}
	n, err := strconv.Atoi(strings.TrimSpace(v))
	if err != nil || n >= lowReads {
		return 0, false
	}
	return time.Duration(lowReads-max(n, 0)) * readRefill, true
}

// remember adds an access token to the strings scrubbed from errors.
func (c *Collector) remember(tok string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, s := range c.secrets {
		if s == tok {
			return
		}
	}
	if len(c.secrets) > 8 {
		c.secrets = c.secrets[:1] // keep the client secret, drop old tokens
	}
	c.secrets = append(c.secrets, tok)
}

// scrub removes every credential from an error's text.
func (c *Collector) scrub(msg string) string {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, sec := range c.secrets {
		if len(sec) >= 4 {
			msg = strings.ReplaceAll(msg, sec, "[redacted]")
		}
	}
	return redact.String(msg)
}

// Collect reads every profile over w and emits one batch per profile.
func (c *Collector) Collect(ctx context.Context, w collectors.Window, e collectors.Emitter) error {
	var errs []error
	points, included := 0, 0
	for _, p := range c.profiles {
		// Shards and service filters pick the profiles this instance reads.
		if !c.env.Includes(p.ResourceID, p.label()) || !c.only.Has(p.ResourceID, p.label()) {
			continue
		}
		included++
		if err := ctx.Err(); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", provider, err))
			break
		}
		b, n, err := c.collectProfile(ctx, p, w)
		points += n
		if len(b.Records) > 0 || len(b.Gauges) > 0 {
			if eerr := e.Emit(ctx, b); eerr != nil {
				return errors.Join(append(errs, fmt.Errorf("%s: emit profile %s: %w", provider, p.label(), eerr))...)
			}
		}
		if err != nil {
			errs = append(errs, &profileError{p: p, msg: c.scrub(err.Error()), err: err})
			if errors.Is(err, errToken) {
				break // no token: every other profile would fail the same way
			}
		}
	}
	if len(errs) > 0 {
		return errors.Join(errs...)
	}
	if points == 0 && included > 0 {
		return collectors.ErrNoData
	}
	return nil
}

// profileError names the profile a failure belongs to; its text has been
// scrubbed of every credential.
type profileError struct {
	p   Profile
	msg string
	err error
}

func (e *profileError) Error() string {
	msg := strings.TrimPrefix(e.msg, provider+": ")
	return fmt.Sprintf("%s: profile %s (%s): %s", provider, e.p.label(), e.p.ResourceID, msg)
}

func (e *profileError) Unwrap() error { return e.err }

// collectProfile runs the profile's queries and maps what they answered.
// A failed query loses only its own fields (status classes, regions…).
func (c *Collector) collectProfile(ctx context.Context, p Profile, w collectors.Window) (collectors.Batch, int, error) {
	answers := map[string]Answer{}
	var errs []error
	n := 0
	for _, q := range queries(p) {
		a, err := c.query(ctx, p, q, w)
		if err != nil {
			errs = append(errs, fmt.Errorf("query %s: %w", q.name, err))
			if ctx.Err() != nil || isAuth(err) {
				break // every other query would fail the same way
			}
			continue
		}
		if len(a.Problems) > 0 {
			errs = append(errs, fmt.Errorf("query %s: %s", q.name, strings.Join(a.Problems, "; ")))
		}
		answers[q.name] = a
		for _, s := range a.Series {
			for _, pt := range s.Points {
				if pt.Has {
					n++
				}
			}
		}
	}
	// Minutes that end within Azure's publication delay may not be final.
	young := c.now().Add(-publishDelay).Unix() - period + 1
	m := mapAnswers(p.label(), answers, w.Start, w.End, young)
	c.report(p.label(), m, w)
	if len(m.Records) == 0 && m.Pending > 0 {
		n = 0 // nothing published yet: the checkpoint must not pass it
	}
	return collectors.Batch{Records: m.Records, Gauges: m.Gauges}, n, errors.Join(errs...)
}

// isAuth reports whether err is a token failure or ARM's refusal of the
// credentials.
func isAuth(err error) bool {
	var he *httpx.Error
	if errors.As(err, &he) {
		return he.Status == http.StatusUnauthorized || he.Status == http.StatusForbidden
	}
	return errors.Is(err, errToken)
}

var errToken = errors.New("no access token")

// query makes one metrics call. A 401 drops the token and tries once more
// with a new one: a token may expire or be revoked before its stated end.
func (c *Collector) query(ctx context.Context, p Profile, q query, w collectors.Window) (Answer, error) {
	u := c.api + p.ResourceID + "/providers/Microsoft.Insights/metrics?" + q.rawQuery(p, w.Start, w.End)
	for attempt := 0; ; attempt++ {
		tok, err := c.tokens.token(ctx)
		if err != nil {
			return Answer{}, fmt.Errorf("%w: %w", errToken, err)
		}
		h := http.Header{}
		h.Set("Authorization", "Bearer "+tok)
		h.Set("Accept", "application/json")
		resp, err := c.http.Do(ctx, httpx.Request{Method: http.MethodGet, URL: u, Header: h, Endpoint: endpointName})
		var he *httpx.Error
		if err != nil && errors.As(err, &he) && he.Status == http.StatusUnauthorized && attempt == 0 {
			c.tokens.invalidate(tok)
			c.logger.Info("access token refused, fetching a new one", "profile", p.label(), "code", armCode(he.Raw))
			continue
		}
		if err != nil {
			if he != nil && he.Status != 0 {
				code := armCode(he.Raw)
				if he.Status == http.StatusBadRequest && bytes.Contains(he.Raw, []byte(mOriginRequests)) {
					// Classic Azure CDN profiles are Microsoft.Cdn/profiles
					// too, without Front Door's origin metrics.
					code += "; a profile without OriginRequestCount is a classic Azure CDN profile, which this collector does not read"
				}
				if code != "" {
					return Answer{}, fmt.Errorf("%w (%s)", err, strings.TrimPrefix(code, "; "))
				}
			}
			return Answer{}, err
		}
		a, err := ParseAnswer(resp.Body, q.aggregation)
		if err != nil {
			return Answer{}, fmt.Errorf("%s: %w", endpointName, err)
		}
		if a.Interval != "" && a.Interval != "PT1M" {
			return Answer{}, fmt.Errorf("%s: answered interval %s, asked for PT1M", endpointName, a.Interval)
		}
		return a, nil
	}
}

// armCode returns the code of an ARM error envelope {"error":{"code"}}.
func armCode(body []byte) string {
	var e struct {
		Error struct {
			Code string `json:"code"`
		} `json:"error"`
	}
	if json.Unmarshal(body, &e) != nil {
		return ""
	}
	return e.Error.Code
}

// report logs and counts what mapAnswers left out.
func (c *Collector) report(profile string, m Mapped, w collectors.Window) {
	clock := c.env.Clock
	if len(m.Bad) > 0 {
		clock.Count(collectors.RejectedValues, len(m.Bad))
		c.logger.Warn("skipped bad datapoints from vendor", "profile", profile, "endpoint", endpointName, "count", len(m.Bad), "first", m.Bad[0])
	}
	if len(m.Rejected) > 0 {
		clock.Count(collectors.RejectedValues, len(m.Rejected))
		c.logger.Warn("impossible values from vendor rejected; the minute's other metrics kept", "profile", profile,
			"endpoint", endpointName, "count", len(m.Rejected), "first", m.Rejected[0])
	}
	if m.Pending > 0 {
		c.logger.Debug("minutes not yet published by Azure Monitor left for the next run", "profile", profile, "minutes", m.Pending)
	}
	if m.Unmapped > 0 {
		c.logger.Debug("status groups without a unified field (1XX, Others) not mapped", "profile", profile, "series", m.Unmapped)
	}
	if len(m.After) == 0 {
		return
	}
	f := clock.RejectFuture(m.After)
	if f.N > 0 {
		c.logger.Warn("vendor datapoints stamped ahead of our clock rejected", append([]any{"profile", profile}, f.Attrs()...)...)
	}
	if late := len(m.After) - f.N; late > 0 {
		c.logger.Debug("vendor datapoints after the window left out", "profile", profile, "count", late,
			"window_end", w.End.UTC().Format(time.RFC3339))
	}
}

// SelectServices implements collectors.ServiceSelector.
func (c *Collector) SelectServices(ids []string) error {
	c.only = collectors.NewSelection(ids)
	if c.only == nil {
		return nil
	}
	for _, p := range c.profiles {
		if c.only.Has(p.ResourceID, p.label()) {
			return nil
		}
	}
	return fmt.Errorf("%s: no configured profile matches %v", provider, ids)
}
