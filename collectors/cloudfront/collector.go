package cloudfront

import (
	"context"
	"fmt"
	"log/slog"
	"sort"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch/types"

	"github.com/cdnmetrics/cdnmetrics/collectors"
)

const (
	// maxPages bounds NextToken paging per distribution and window.
	maxPages = 100
)

// metricDataAPI is the part of the CloudWatch client the collector uses.
type metricDataAPI interface {
	GetMetricData(ctx context.Context, in *cloudwatch.GetMetricDataInput, optFns ...func(*cloudwatch.Options)) (*cloudwatch.GetMetricDataOutput, error)
}

// Collector reads CloudFront metrics from CloudWatch.
type Collector struct {
	api    metricDataAPI
	dists  []Distribution
	env    collectors.Env
	only   collectors.Selection // backfill --service
	logger *slog.Logger
	secret string // static secret key, scrubbed from errors; "" with the default chain
	// callTimeout bounds one GetMetricData call, SDK retries included
	// (request_timeout).
	callTimeout time.Duration
}

// New builds a collector from validated options. Credentials are resolved
// lazily by the SDK on the first call.
func New(o *Options, env collectors.Env) (*Collector, error) {
	var secret string
	lo := []func(*config.LoadOptions) error{config.WithRegion(o.Region)}
	if o.AccessKeyID != "" {
		s, err := env.Secret("cloudfront", "secret_key_file", o.SecretKeyFile, o.SecretKeyEnv)
		if err != nil {
			return nil, err
		}
		secret = s
		lo = append(lo, config.WithCredentialsProvider(credentials.NewStaticCredentialsProvider(o.AccessKeyID, s, "")))
	} else if o.Profile != "" {
		lo = append(lo, config.WithSharedConfigProfile(o.Profile))
	}
	// env.HTTPClient is not passed on: the SDK builds its own transport so
	// that it can apply AWS_CA_BUNDLE, which a plain *http.Client cannot take.
	cfg, err := config.LoadDefaultConfig(context.Background(), lo...)
	if err != nil {
		return nil, fmt.Errorf("cloudfront: load AWS configuration: %w", err)
	}
	api := cloudwatch.NewFromConfig(cfg, func(co *cloudwatch.Options) {
		if o.EndpointURL != "" {
			co.BaseEndpoint = aws.String(o.EndpointURL)
		}
	})
	return &Collector{
		api:    api,
		dists:  append([]Distribution(nil), o.Distributions...),
		env:    env,
		logger: env.CollectorLogger(provider),
		secret: secret,

		callTimeout: o.RequestDeadline(),
	}, nil
}

// Collect reads every distribution over w and emits one batch per
// distribution.
func (c *Collector) Collect(ctx context.Context, w collectors.Window, e collectors.Emitter) error {
	return collectors.ServiceRun[Distribution]{Provider: provider, Kind: "distribution",
		Name: func(d Distribution) (collectors.ServiceRef, string) {
			return collectors.ServiceRef{ID: d.ID, Name: d.label()}, d.label()
		},
		// No datapoints for any distribution is no data yet.
		Collect: func(d Distribution) (collectors.Batch, int, error) {
			b, points, err := c.collectDist(ctx, d, w)
			if err != nil {
				err = &distError{dist: d, err: err, secret: c.secret}
			}
			return b, points, err
		},
	}.Run(ctx, c.env, c.only, c.dists, e)
}

// collectDist pages GetMetricData for one distribution and maps the result.
// It returns what it could map, the number of datapoints, and an error for
// whatever failed.
func (c *Collector) collectDist(ctx context.Context, d Distribution, w collectors.Window) (collectors.Batch, int, error) {
	var b collectors.Batch
	in := &cloudwatch.GetMetricDataInput{
		MetricDataQueries: queries(d.ID),
		StartTime:         aws.Time(w.Start.UTC()),
		EndTime:           aws.Time(w.End.UTC()),
		ScanBy:            types.ScanByTimestampAscending,
	}
	all := map[string]*series{}
	last := map[string]types.StatusCode{}
	var problems []string
	for page := 0; ; page++ {
		if page == maxPages {
			problems = append(problems, fmt.Sprintf("still a NextToken after %d pages; the rest is left out", maxPages))
			break
		}
		timeout := c.callTimeout
		if timeout <= 0 {
			timeout = collectors.DefaultRequestTimeout
		}
		cctx, cancel := context.WithTimeout(ctx, timeout)
		out, err := c.api.GetMetricData(cctx, in)
		cancel()
		if err != nil {
			if page == 0 {
				return b, 0, fmt.Errorf("GetMetricData: %w", err)
			}
			// Keep the pages already read; the checkpoint stays, so the
			// next run reads the window again.
			problems = append(problems, fmt.Sprintf("page %d: %v", page+1, err))
			break
		}
		for _, r := range out.MetricDataResults {
			addResult(all, r)
			id := aws.ToString(r.Id)
			last[id] = r.StatusCode
			if r.StatusCode != types.StatusCodeComplete && r.StatusCode != types.StatusCodePartialData {
				problems = append(problems, fmt.Sprintf("%s: status %s%s", id, r.StatusCode, messages(r.Messages)))
			}
		}
		if len(out.Messages) > 0 {
			c.logger.Warn("CloudWatch messages", "distribution", d.label(), "endpoint", "GetMetricData", "messages", messages(out.Messages))
		}
		if aws.ToString(out.NextToken) == "" {
			break
		}
		in.NextToken = out.NextToken
	}
	ids := make([]string, 0, len(last))
	for id := range last {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	for _, id := range ids {
		if last[id] == types.StatusCodePartialData {
			problems = append(problems, fmt.Sprintf("%s: PartialData without a NextToken", id))
		}
	}
	n := 0
	for _, s := range all {
		n += len(s.Values)
	}
	recs, gauges, bad, dropped, rejected, after := mapResults(d.label(), all, w.Start, w.End)
	if len(bad) > 0 {
		c.env.Clock.Count(collectors.RejectedValues, len(bad))
		c.logger.Warn("skipped bad datapoints from vendor", "distribution", d.label(), "endpoint", "GetMetricData", "count", len(bad), "first", bad[0])
	}
	c.countRejected(d.label(), rejected, after, w)
	c.countUnscaled(d.label(), dropped)
	b.Records, b.Gauges = recs, gauges
	if len(problems) > 0 {
		return b, n, fmt.Errorf("GetMetricData: %s", strings.Join(problems, "; "))
	}
	return b, n, nil
}

func messages(ms []types.MessageData) string {
	if len(ms) == 0 {
		return ""
	}
	parts := make([]string, 0, len(ms))
	for _, m := range ms {
		parts = append(parts, aws.ToString(m.Code)+": "+aws.ToString(m.Value))
	}
	return " (" + strings.Join(parts, "; ") + ")"
}

// distError names the distribution a failure belongs to and never carries
// the static secret key.
type distError struct {
	dist   Distribution
	err    error
	secret string
}

func (e *distError) Error() string {
	msg := e.err.Error()
	if e.secret != "" {
		msg = strings.ReplaceAll(msg, e.secret, "[redacted]")
	}
	return fmt.Sprintf("%s: distribution %s (%s): %s", provider, e.dist.label(), e.dist.ID, msg)
}

func (e *distError) Unwrap() error { return e.err }

// SelectServices implements collectors.ServiceSelector.
func (c *Collector) SelectServices(ids []string) error {
	c.only = collectors.NewSelection(ids)
	if c.only == nil {
		return nil
	}
	for _, d := range c.dists {
		if c.only.Has(d.ID, d.label()) {
			return nil
		}
	}
	return fmt.Errorf("cloudfront: no configured distribution matches %v", ids)
}
