package edgecast

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"

	"github.com/cdnmetrics/cdnmetrics/collectors"
	"github.com/cdnmetrics/cdnmetrics/internal/httpx"
	"github.com/cdnmetrics/cdnmetrics/internal/schema"
)

const (
	provider = "edgecast"
	// step is the interval one snapshot stands for: the collector runs
	// once a minute and each run reads the current rates once.
	step = time.Minute
	// skew is how far the vendor's clock may be from the window end for a
	// snapshot still to stand for the window's last minute.
	skew = 10 * time.Second
	// stale is how long after a window's end the collector still asks at
	// all; older windows (a backfill) cannot be served by a real-time API.
	stale = 10 * time.Minute
)

// Collector reads EdgeCast real-time statistics.
type Collector struct {
	base   string // .../v2/realtimestats/customers/{AN}/media
	plats  []platform
	http   *httpx.Client
	logger *slog.Logger
	auth   func() (string, error) // Authorization header value
	env    collectors.Env
	only   collectors.Selection // backfill --service: names or media type ids
	now    func() time.Time

	mu      sync.Mutex
	secrets []string // scrubbed from every error text
}

// New builds the collector from validated options.
func New(o *Options, env collectors.Env) (*Collector, error) {
	logger := env.CollectorLogger(provider)
	c := &Collector{
		base:   strings.TrimRight(o.APIURL, "/") + "/v2/realtimestats/customers/" + url.PathEscape(strings.TrimSpace(o.Account)) + "/media",
		plats:  o.platforms(),
		logger: logger,
		now:    time.Now,
		env:    env,
	}
	if len(c.plats) == 0 {
		return nil, errors.New("edgecast: no known platform configured")
	}
	if o.OAuth != nil {
		sec, err := env.Secret("edgecast", "oauth.client_secret_file", o.OAuth.ClientSecretFile, o.OAuth.ClientSecretEnv)
		if err != nil {
			return nil, err
		}
		tokenURL := o.OAuth.TokenURL
		if tokenURL == "" {
			tokenURL = DefaultTokenURL
		}
		cc := &clientcredentials.Config{
			ClientID: o.OAuth.ClientID, ClientSecret: sec, TokenURL: tokenURL, Scopes: o.OAuth.Scopes,
			// Edgio's identity service takes the credentials as form fields.
			AuthStyle: oauth2.AuthStyleInParams,
		}
		// The token request is a vendor request too: request_timeout bounds
		// it, body included (http.Client.Timeout).
		hc := env.TimedHTTPClient(o.RequestDeadline())
		// The token source caches the token until shortly before it
		// expires, then fetches a new one.
		ts := cc.TokenSource(context.WithValue(context.Background(), oauth2.HTTPClient, hc))
		c.secrets = append(c.secrets, sec)
		c.auth = func() (string, error) {
			tok, err := ts.Token()
			if err != nil {
				return "", tokenError(tokenURL, err)
			}
			c.remember(tok.AccessToken)
			return "Bearer " + tok.AccessToken, nil
		}
	} else {
		tok, err := env.Secret("edgecast", "token_file", o.TokenFile, o.TokenEnv)
		if err != nil {
			return nil, err
		}
		c.secrets = append(c.secrets, tok)
		c.auth = func() (string, error) { return "TOK:" + tok, nil }
	}
	c.http = env.VendorClient(provider, logger, o.RequestDeadline(),
		// No documented budget: a few calls a second is plenty for three
		// calls per platform per minute and gentle on the API.
		httpx.WithRate(5, 10),
		// A snapshot that arrives late stands for the wrong minute: fail
		// fast rather than retry for minutes.
		httpx.WithRetries(2),
		httpx.WithBackoff(500*time.Millisecond, 5*time.Second),
		httpx.WithMaxWait(20*time.Second),
		httpx.WithTimeout(15*time.Second),
		httpx.WithMaxBody(1<<20),
	)
	return c, nil
}

// remember adds an access token to the strings scrubbed from errors.
func (c *Collector) remember(tok string) {
	if tok == "" {
		return
	}
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

// tokenError describes a failed token request without its response body,
// which an identity service may fill with request details.
func tokenError(tokenURL string, err error) error {
	var re *oauth2.RetrieveError
	if errors.As(err, &re) {
		msg := ""
		if re.Response != nil {
			msg = "HTTP " + fmt.Sprint(re.Response.StatusCode)
		}
		if re.ErrorCode != "" {
			msg += " " + re.ErrorCode
		}
		if re.ErrorDescription != "" {
			msg += ": " + re.ErrorDescription
		}
		return fmt.Errorf("oauth token from %s: %s", tokenURL, strings.TrimSpace(msg))
	}
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err // the URL is named already
	}
	return fmt.Errorf("oauth token from %s: %w", tokenURL, err)
}

// scrub removes every credential from an error's text.
func (c *Collector) scrub(err error) error {
	if err == nil {
		return nil
	}
	s := err.Error()
	clean := s
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, sec := range c.secrets {
		if len(sec) >= 4 {
			clean = strings.ReplaceAll(clean, sec, "[redacted]")
		}
	}
	if clean == s {
		return err
	}
	return errors.New(clean)
}

// get calls one real-time endpoint of a platform.
func (c *Collector) get(ctx context.Context, p platform, metric string) (*httpx.Response, error) {
	auth, err := c.auth()
	if err != nil {
		return nil, fmt.Errorf("%s: %s: %w", provider, metric, err)
	}
	path := fmt.Sprintf("/%d/%s", p.id, metric)
	return c.http.Do(ctx, httpx.Request{
		Method:   http.MethodGet,
		URL:      c.base + path,
		Header:   http.Header{"Authorization": {auth}, "Accept": {"application/json"}},
		Endpoint: "GET /v2/realtimestats/customers/{account}/media" + path,
	})
}

// snapshotTime is when the vendor answered: its Date header, else our clock.
func (c *Collector) snapshotTime(resp *httpx.Response) time.Time {
	if t, err := http.ParseTime(resp.Header.Get("Date")); err == nil {
		return t
	}
	return c.now()
}

// Collect reads the current rates of every platform and emits them as
// the counts of the window's last minute, when the window is live (it
// ends about now by the vendor's clock). A real-time API has no history:
// for an older window nothing is emitted and a warning is logged.
func (c *Collector) Collect(ctx context.Context, w collectors.Window, e collectors.Emitter) error {
	if !w.End.After(w.Start) {
		return nil
	}
	if age := c.now().Sub(w.End); age > stale || age < -stale {
		c.logger.Warn("window is not live; the real-time API has no history, nothing emitted", "window", w.String())
		return nil
	}
	start := w.End.Add(-step)
	if start.Before(w.Start) {
		// A window shorter than a minute cannot hold a one-minute interval.
		c.logger.Warn("window shorter than the one-minute step, nothing emitted", "window", w.String())
		return nil
	}
	var recs []schema.Record
	var errs []error
	for _, p := range c.plats {
		// Shards and service filters pick the platforms this instance reads.
		if !c.env.Includes(fmt.Sprint(p.id), p.name) || !c.only.Has(fmt.Sprint(p.id), p.name) {
			continue
		}
		rec, err := c.platform(ctx, p, w, start)
		if err != nil {
			errs = append(errs, c.scrub(err))
		}
		if rec != nil {
			recs = append(recs, *rec)
		}
		if ctx.Err() != nil {
			break
		}
	}
	if len(recs) > 0 {
		if err := e.Emit(ctx, collectors.Batch{Records: recs}); err != nil {
			return err
		}
	}
	return errors.Join(errs...)
}

// platform reads one platform's three real-time endpoints into a record.
// A failed endpoint leaves its fields unknown; the others are kept.
func (c *Collector) platform(ctx context.Context, p platform, w collectors.Window, start time.Time) (*schema.Record, error) {
	rec := &schema.Record{Provider: provider, Service: p.name, Location: schema.LocationAll, Start: start.Unix(), Step: int64(step / time.Second)}
	var errs []error
	var at time.Time
	for _, metric := range []string{"bandwidth", "cachestatus", "statuscode"} {
		resp, err := c.get(ctx, p, metric)
		if err != nil {
			errs = append(errs, fmt.Errorf("platform %s: %w", p.name, err))
			continue
		}
		if at.IsZero() {
			at = c.snapshotTime(resp)
			// The first answer decides whether this snapshot is the
			// window's last minute; a late run would stamp the wrong one.
			if at.Before(w.End.Add(-skew)) || !at.Before(w.End.Add(step+skew)) {
				c.logger.Warn("snapshot is not of the window's last minute, nothing emitted",
					"platform", p.name, "window", w.String(), "vendor_time", at.UTC().Format(time.RFC3339))
				return nil, errors.Join(errs...)
			}
		}
		if err := c.mapMetric(metric, resp.Body, rec); err != nil {
			c.logger.Warn("bad answer skipped", "platform", p.name, "endpoint", metric, "err", err)
			errs = append(errs, fmt.Errorf("%s: platform %s: GET .../media/%d/%s: %w", provider, p.name, p.id, metric, err))
		}
	}
	if rec.Empty() {
		return nil, errors.Join(errs...)
	}
	return rec, errors.Join(errs...)
}

func (c *Collector) mapMetric(metric string, body []byte, rec *schema.Record) error {
	s := int64(step / time.Second)
	switch metric {
	case "bandwidth":
		bps, err := parseBandwidth(body)
		if err != nil {
			return err
		}
		return mapBandwidth(bps, s, &rec.Counts)
	case "cachestatus":
		rows, err := parseCacheStatus(body)
		if err != nil {
			return err
		}
		return mapCacheStatus(rows, s, &rec.Counts)
	default:
		rows, err := parseStatusCode(body)
		if err != nil {
			return err
		}
		return mapStatusCode(rows, s, &rec.Counts)
	}
}

// SelectServices implements collectors.ServiceSelector; a platform is
// matched by name or media type id.
func (c *Collector) SelectServices(ids []string) error {
	c.only = collectors.NewSelection(ids)
	for _, p := range c.plats {
		if c.only.Has(fmt.Sprint(p.id), p.name) {
			return nil
		}
	}
	c.only = nil
	return fmt.Errorf("%s: no configured platform matches %v", provider, ids)
}
