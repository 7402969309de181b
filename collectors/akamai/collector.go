package akamai

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/akamai/AkamaiOPEN-edgegrid-golang/v13/pkg/edgegrid"

	"github.com/cdnmetrics/cdnmetrics/collectors"
	"github.com/cdnmetrics/cdnmetrics/internal/httpx"
	"github.com/cdnmetrics/cdnmetrics/internal/schema"
)

const reportPath = "/reporting-api/v2/reports/delivery/traffic/current/data"

// Collector is the Akamai collector.
type Collector struct {
	o      *Options
	env    collectors.Env
	base   string
	http   *httpx.Client
	logger *slog.Logger
	codes  []CPCode
}

// New builds the collector; the EdgeGrid credentials are loaded here.
func New(o *Options, env collectors.Env) (*Collector, error) {
	cred, err := o.credentials()
	if err != nil {
		return nil, fmt.Errorf("akamai: %v", err)
	}
	env.WarnSecretFile("akamai.edgerc", expand(o.Edgerc))
	base := "https://" + cred.Host
	if o.APIURL != "" {
		base = strings.TrimRight(o.APIURL, "/")
	}
	logger := env.Logger
	if logger == nil {
		logger = slog.Default()
	}
	signer := *cred
	opts := []httpx.Option{
		httpx.WithLogger(logger),
		httpx.WithRate(20.0/60, 2), // ~20 requests a minute per client
		httpx.WithRateHeaders(rateHeaders),
		httpx.WithDeadline(o.RequestDeadline()),
		// Sign every attempt afresh: EdgeGrid signatures carry a timestamp and nonce.
		httpx.WithPrepare(func(r *http.Request) error { signer.SignRequest(r); return nil }),
	}
	if env.HTTPClient != nil {
		opts = append(opts, httpx.WithHTTPClient(env.HTTPClient))
	}
	var codes []CPCode
	for _, c := range o.CPCode {
		if env.Includes(strconv.FormatInt(c.ID, 10), c.name()) {
			codes = append(codes, c)
		}
	}
	return &Collector{o: o, env: env, base: base, http: httpx.New("akamai", opts...), logger: logger, codes: codes}, nil
}

var _ edgegrid.Signer = edgegrid.Config{}

// rateHeaders reads akamai-sync-ratelimit-remaining / -reset (the reset as
// Unix seconds or an RFC 3339 time): when the budget is spent, wait.
func rateHeaders(h http.Header, now time.Time) (time.Duration, bool) {
	rem := h.Get("Akamai-Sync-Ratelimit-Remaining")
	if rem == "" {
		return 0, false
	}
	if n, err := strconv.Atoi(strings.TrimSpace(rem)); err != nil || n > 0 {
		return 0, false
	}
	reset := strings.TrimSpace(h.Get("Akamai-Sync-Ratelimit-Reset"))
	if s, err := strconv.ParseInt(reset, 10, 64); err == nil {
		if s > 1e9 {
			return time.Unix(s, 0).Sub(now), true
		}
		return time.Duration(s) * time.Second, true
	}
	if t, err := time.Parse(time.RFC3339, reset); err == nil {
		return t.Sub(now), true
	}
	return time.Minute, true
}

// SelectServices implements collectors.ServiceSelector.
func (c *Collector) SelectServices(ids []string) error {
	only := collectors.NewSelection(ids)
	var keep []CPCode
	for _, cp := range c.codes {
		if only.Has(strconv.FormatInt(cp.ID, 10), cp.Name) {
			keep = append(keep, cp)
		}
	}
	if len(keep) == 0 {
		return fmt.Errorf("akamai: no configured CP code matches %v", ids)
	}
	c.codes = keep
	return nil
}

type reportRequest struct {
	Dimensions []string `json:"dimensions"`
	Metrics    []string `json:"metrics"`
	Filters    []filter `json:"filters"`
	SortBys    []sortBy `json:"sortBys"`
	Limit      int      `json:"limit"`
}

type filter struct {
	DimensionName string   `json:"dimensionName"`
	Operator      string   `json:"operator"`
	Expressions   []string `json:"expressions"`
}

type sortBy struct {
	Name      string `json:"name"`
	SortOrder string `json:"sortOrder"`
}

func (c *Collector) query(ctx context.Context, w collectors.Window, dims, metrics []string) (*report, error) {
	exprs := make([]string, len(c.codes))
	for i, cp := range c.codes {
		exprs[i] = strconv.FormatInt(cp.ID, 10)
	}
	body, _ := json.Marshal(reportRequest{
		Dimensions: dims, Metrics: metrics,
		Filters: []filter{{DimensionName: "cpcode", Operator: "IN_LIST", Expressions: exprs}},
		SortBys: []sortBy{{Name: "time5minutes", SortOrder: "ASCENDING"}},
		Limit:   50000,
	})
	q := url.Values{"start": {w.Start.UTC().Format(time.RFC3339)}, "end": {w.End.UTC().Format(time.RFC3339)}}
	resp, err := c.http.Do(ctx, httpx.Request{
		Method: http.MethodPost, URL: c.base + reportPath + "?" + q.Encode(), Body: body,
		Header:   http.Header{"Content-Type": {"application/json"}, "Accept": {"application/json"}},
		Endpoint: "POST " + reportPath,
	})
	if err != nil {
		var he *httpx.Error
		if errors.As(err, &he) {
			if p := problemText(string(he.Raw)); p != "" {
				he.Body = p // the problem's title and detail, not raw JSON
			}
		}
		return nil, err
	}
	return parseReport(resp.Body)
}

// Collect implements collectors.Collector.
func (c *Collector) Collect(ctx context.Context, w collectors.Window, e collectors.Emitter) error {
	if len(c.codes) == 0 {
		return nil
	}
	want := map[int64]bool{}
	names := map[int64]string{}
	for _, cp := range c.codes {
		want[cp.ID] = true
		names[cp.ID] = cp.name()
	}
	traffic, err := c.query(ctx, w, []string{"time5minutes", "cpcode"}, []string{"edgeHitsSum", "edgeBytesSum", "originHitsSum", "originBytesSum"})
	if err != nil {
		return err
	}
	counts, skipped := trafficRows(traffic, want)
	var classErr error
	if len(counts) > 0 {
		classes, err := c.query(ctx, w, []string{"time5minutes", "cpcode", "responseClass"}, []string{"edgeHitsSum"})
		if err != nil {
			classErr = fmt.Errorf("status classes: %w", err)
		} else {
			skipped = append(skipped, addClasses(classes, counts)...)
		}
	}
	if len(skipped) > 0 {
		// One line per run, however many rows were bad; each is counted.
		c.logger.Warn("bad akamai rows skipped", "endpoint", "POST "+reportPath, "count", len(skipped), "first", skipped[0])
		c.env.Clock.Count(collectors.RejectedValues, len(skipped))
	}
	recs := make([]schema.Record, 0, len(counts))
	var after []int64
	for k, cnt := range counts {
		if k.start >= w.End.Unix() {
			after = append(after, k.start)
			continue
		}
		if k.start < w.Start.Unix() {
			continue
		}
		recs = append(recs, schema.Record{Provider: "akamai", Service: names[k.cpcode], Location: schema.LocationAll, Start: k.start, Step: 300, Counts: *cnt})
	}
	c.rejectFutureRows(after)
	sort.Slice(recs, func(i, j int) bool {
		if recs[i].Start != recs[j].Start {
			return recs[i].Start < recs[j].Start
		}
		return recs[i].Service < recs[j].Service
	})
	if len(recs) > 0 {
		if err := e.Emit(ctx, collectors.Batch{Records: recs}); err != nil {
			return err
		}
	}
	return classErr
}
