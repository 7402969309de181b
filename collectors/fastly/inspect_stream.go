package fastly

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/cdnmetrics/cdnmetrics/collectors"
	"github.com/cdnmetrics/cdnmetrics/internal/backoff"
	"github.com/cdnmetrics/cdnmetrics/internal/httpx"
)

// inspectFeed is one of Fastly's inspector products.
type inspectFeed struct {
	name    string // "origins" or "domains": URL element and path node
	product string // Fastly's product id, as the entitlement API names it
	title   string // for logs
	lookup  func([]byte) int
	groupBy string // the historical API's dimension of one series
}

var (
	originFeed = &inspectFeed{name: feedOrigins, product: productOrigin, title: "Origin Inspector", lookup: lookupOrigin, groupBy: "host"}
	domainFeed = &inspectFeed{name: feedDomains, product: productDomain, title: "Domain Inspector", lookup: lookupDomain, groupBy: "domain"}
)

// inspectFeeds are the feeds the options switch on.
func (c *Collector) inspectFeeds() []*inspectFeed {
	var fs []*inspectFeed
	if c.o.OriginInspector {
		fs = append(fs, originFeed)
	}
	if c.o.DomainInspector {
		fs = append(fs, domainFeed)
	}
	return fs
}

// entitlementTTL is how long an entitlement answer is kept; a failed
// check is retried sooner.
const (
	entitlementTTL   = refreshEvery
	entitlementRetry = time.Minute
)

// inspectState is the collector's inspector bookkeeping, shared by the
// subscribers and Collect.
type inspectState struct {
	asking sync.Mutex // held while the entitlement API is asked
	mu     sync.Mutex
	ent    map[string]entitlement // product → last answer
	told   map[string]bool        // service id + product → the verdict last logged
	// renamed holds service id, feed and POP code of the historical POPs
	// already reported as renamed (inspect_hist.go reportHistRenamed).
	renamed map[string]bool
}

type entitlement struct {
	has bool
	err error
	at  time.Time
}

// entitledAnswer is GET /entitled-products/{product}, the check
// fastly-exporter makes before it polls an inspector feed:
// {"has_access":true,"product":{"id":"origin_inspector"}}.
type entitledAnswer struct {
	HasAccess *bool `json:"has_access"`
	Product   struct {
		ID string `json:"id"`
	} `json:"product"`
}

func decodeEntitled(body []byte, product string) (bool, error) {
	var a entitledAnswer
	if err := json.Unmarshal(body, &a); err != nil {
		return false, fmt.Errorf("decode: %w (body starts %q)", err, head(body))
	}
	if a.HasAccess == nil {
		return false, fmt.Errorf("answer has no has_access (body starts %q)", head(body))
	}
	if a.Product.ID != "" && a.Product.ID != product {
		return false, fmt.Errorf("answer is about product %q, not %q", a.Product.ID, product)
	}
	return *a.HasAccess, nil
}

// entitled reports whether the account has product, from Fastly's
// entitlement API (GET {api_url}/entitled-products/{product}), asked at
// most every entitlementTTL (entitlementRetry after a failure).
func (c *Collector) entitled(ctx context.Context, product string) (bool, error) {
	st := c.inspectState()
	fresh := func() (entitlement, bool) {
		st.mu.Lock()
		defer st.mu.Unlock()
		ent, ok := st.ent[product]
		now := c.now()
		return ent, ok && (now.Sub(ent.at) < entitlementTTL && ent.err == nil || now.Sub(ent.at) < entitlementRetry)
	}
	if ent, ok := fresh(); ok {
		return ent.has, ent.err
	}
	// One question at a time: every subscriber starts at once and would
	// otherwise ask Fastly the same thing once per service.
	st.asking.Lock()
	defer st.asking.Unlock()
	if ent, ok := fresh(); ok {
		return ent.has, ent.err
	}
	now := c.now()
	u := strings.TrimRight(c.o.APIURL, "/") + "/entitled-products/" + url.PathEscape(product)
	resp, err := c.http.Do(ctx, httpx.Request{URL: u, Header: c.header(), Endpoint: "GET /entitled-products/{product}"})
	var has bool
	if err == nil {
		has, err = decodeEntitled(resp.Body, product)
	}
	if err != nil {
		err = fmt.Errorf("fastly: entitlement of %s: %w", product, err)
	}
	if ctx.Err() == nil {
		st.mu.Lock()
		st.ent[product] = entitlement{has: has, err: err, at: now}
		st.mu.Unlock()
	}
	return has, err
}

func newInspectState() *inspectState {
	return &inspectState{ent: map[string]entitlement{}, told: map[string]bool{}, renamed: map[string]bool{}}
}

// inspectState returns the collector's inspector state. It is made in New
// and has its own locks: c.mu is held across service listings, which must
// not stall the subscribers' once-a-second check.
func (c *Collector) inspectState() *inspectState { return c.insp }

// hasFeed reports whether service s has fd's product. The verdict is
// logged once per service (again only when it changes), and a feed the
// service lacks is never asked for; a failed
// check is logged each time it is made (at most every entitlementRetry)
// and counts as "not now".
func (c *Collector) hasFeed(ctx context.Context, s service, fd *inspectFeed) bool {
	has, err := c.entitled(ctx, fd.product)
	if err != nil {
		if ctx.Err() == nil {
			c.logger.Warn("fastly "+fd.title+" entitlement check failed; feed not read until it succeeds", "service", s.name, "err", err)
		}
		return false
	}
	st := c.inspectState()
	key := s.id + "\x00" + fd.product
	st.mu.Lock()
	last, told := st.told[key]
	st.told[key] = has
	st.mu.Unlock()
	// Once per service, and again only when the answer changes.
	if !told || last != has {
		if has {
			c.logger.Info("fastly "+fd.title+" available; reading its feed", "service", s.name, "product", fd.product)
		} else {
			c.logger.Info("fastly "+fd.title+" not available to this service's account; its feed is not read", "service", s.name, "product", fd.product)
		}
	}
	return has
}

// startInspectors starts one subscriber per inspector feed of s.
func (c *Collector) startInspectors(ctx context.Context, s service, e collectors.Emitter, wg *sync.WaitGroup) {
	for _, fd := range c.inspectFeeds() {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c.inspectSubscribe(ctx, s, fd, e)
		}()
	}
}

// inspectSubscribe follows one service's inspector feed until ctx ends,
// like subscribe follows the channel: ts 0 first, then the Timestamp
// Fastly returned, the same backoffs, the same aggregation rules.
func (c *Collector) inspectSubscribe(ctx context.Context, s service, fd *inspectFeed, e collectors.Emitter) {
	agg := newInspectAgg(c.env.Prefix, s.name, fd.name, time.Duration(c.o.Resolution), c.o.InspectorsPerPOP)
	agg.ours = c.env.Clock
	var frame iFrame
	base := strings.TrimRight(c.o.RTURL, "/") + "/v1/" + fd.name + "/" + url.PathEscape(s.id) + "/ts/"
	endpoint := "GET /v1/" + fd.name + "/{id}/ts"
	ts := int64(0)
	retry := backoff.New(minBackoff, maxBackoff, 1, 1.25)
	authRetry := backoff.New(authBackoff, authBackoff, 1, 1.25)
	refused := false
	var future futureWarn
	log := c.logger.With("service", s.name, "feed", fd.name)
	for ctx.Err() == nil {
		if !c.hasFeed(ctx, s, fd) {
			// Never poll a feed the service does not have; ask again later.
			c.sleep(ctx, entitlementRetry)
			ts = 0 // a gap: start afresh, the first bucket is partial again
			agg = newInspectAgg(c.env.Prefix, s.name, fd.name, time.Duration(c.o.Resolution), c.o.InspectorsPerPOP)
			agg.ours = c.env.Clock
			continue
		}
		resp, err := c.rt.Do(ctx, httpx.Request{URL: base + strconv.FormatInt(ts, 10), Header: c.header(), Endpoint: endpoint})
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			var he *httpx.Error
			if errors.As(err, &he) && (he.Status == http.StatusUnauthorized || he.Status == http.StatusForbidden) {
				if !refused {
					// Either the token or the service: Fastly enables the
					// products per service, and the entitlement answer is
					// the account's.
					log.Error("fastly real-time API refused the "+fd.title+" feed (token, or product not enabled on this service); retrying every 2m", "err", err)
					refused = true
				}
				c.sleep(ctx, authRetry.NextBackOff())
				continue
			}
			wait := retry.NextBackOff()
			log.Warn("fastly "+fd.title+" real-time request failed", "err", err, "retry_in", wait.Round(time.Millisecond))
			c.sleep(ctx, wait)
			continue
		}
		if refused {
			log.Info("fastly real-time API accepts the token again")
			refused = false
		}
		retry.Reset()
		if err := decodeInspect(resp.Body, fd.lookup, &frame); err != nil {
			log.Warn("bad fastly "+fd.title+" real-time response skipped", "err", err, "body_start", head(resp.Body))
			c.sleep(ctx, c.idle)
			continue
		}
		res := agg.add(&frame)
		switch {
		case res.futureTimestamp != 0:
			ts = c.env.Clock.Time().Unix()
		case frame.hasTimestamp && frame.timestamp > 0:
			ts = frame.timestamp
		}
		noData := len(frame.records) == 0
		frame.release()
		if res.future > 0 || res.futureTimestamp != 0 {
			c.rejectFuture(log, addResult{future: res.future, newestFuture: res.newestFuture, futureTimestamp: res.futureTimestamp}, &future)
		}
		if len(res.skipped) > 0 {
			log.Warn("fastly "+fd.title+" real-time data skipped", "count", len(res.skipped), "first", res.skipped[0])
			c.env.Clock.Count(collectors.RejectedValues, len(res.skipped))
		}
		for _, pop := range res.renamed {
			log.Warn("fastly "+fd.title+" POP named like a reserved location; written under another name", "pop", pop, "location", inspectPOP([]byte(pop)))
		}
		c.env.Clock.Count(collectors.RenamedLocations, len(res.renamed))
		for _, cl := range res.clashes {
			log.Warn("fastly "+fd.title+" names share a Graphite path node; their counts are summed there", "names", cl)
		}
		for _, p := range res.partial {
			log.Info("first fastly "+fd.title+" bucket after subscribing is incomplete; not emitted", "bucket", p)
		}
		if len(res.points) > 0 {
			if err := e.Emit(ctx, collectors.Batch{Points: res.points}); err != nil {
				if ctx.Err() == nil {
					log.Error("emitter refused fastly "+fd.title+" batch; subscriber stops", "err", err)
				}
				return
			}
		}
		if noData {
			c.sleep(ctx, c.idle)
		}
	}
}
