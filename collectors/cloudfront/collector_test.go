package cloudfront

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch/types"
	"github.com/aws/smithy-go/encoding/cbor"

	"github.com/cdnmetrics/cdnmetrics/collectors"
	"github.com/cdnmetrics/cdnmetrics/collectors/cloudfront/cloudfrontsim"
	"github.com/cdnmetrics/cdnmetrics/collectors/collectorstest"
	"github.com/cdnmetrics/cdnmetrics/internal/simulate"
	"github.com/cdnmetrics/cdnmetrics/internal/traffic"
)

// recorder keeps what a collector emits.
type recorder = collectorstest.Recorder

// fakeAPI answers GetMetricData from a function of the distribution id and
// the call number.
type fakeAPI struct {
	mu    sync.Mutex
	calls int
	fn    func(dist string, in *cloudwatch.GetMetricDataInput, call int) (*cloudwatch.GetMetricDataOutput, error)
}

func (f *fakeAPI) GetMetricData(_ context.Context, in *cloudwatch.GetMetricDataInput, _ ...func(*cloudwatch.Options)) (*cloudwatch.GetMetricDataOutput, error) {
	f.mu.Lock()
	f.calls++
	n := f.calls
	f.mu.Unlock()
	dist := aws.ToString(in.MetricDataQueries[0].MetricStat.Metric.Dimensions[0].Value)
	return f.fn(dist, in, n)
}

func fakeCollector(api metricDataAPI, dists ...Distribution) (*Collector, *bytes.Buffer) {
	var logs bytes.Buffer
	return &Collector{api: api, dists: dists, logger: slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))}, &logs
}

func sampleWindow() collectors.Window {
	return collectors.Window{Start: time.Unix(1736935200, 0), End: time.Unix(1736935200+180, 0)}
}

// PartialData pages are followed with NextToken and merged.
func TestCollectPagesPartialData(t *testing.T) {
	partial, next := sampleResults(t, "cloudwatch-getmetricdata-partial.constructed.json")
	full, _ := sampleResults(t, "cloudwatch-getmetricdata-response.constructed.json")
	api := &fakeAPI{fn: func(_ string, in *cloudwatch.GetMetricDataInput, call int) (*cloudwatch.GetMetricDataOutput, error) {
		if call == 1 {
			if in.NextToken != nil {
				t.Error("first call has a NextToken")
			}
			return &cloudwatch.GetMetricDataOutput{MetricDataResults: partial, NextToken: aws.String(next)}, nil
		}
		if aws.ToString(in.NextToken) != next {
			t.Errorf("second call NextToken = %q", aws.ToString(in.NextToken))
		}
		// The last page: the third minute of requests, and the rest.
		rest := []types.MetricDataResult{{Id: aws.String(idRequests), StatusCode: types.StatusCodeComplete, Timestamps: []time.Time{time.Unix(1736935320, 0)}, Values: []float64{121004}}}
		for _, r := range full[1:] {
			rest = append(rest, r)
		}
		return &cloudwatch.GetMetricDataOutput{MetricDataResults: rest}, nil
	}}
	c, _ := fakeCollector(api, Distribution{ID: "E1ABCDEF2GHIJK", Name: "www"})
	rec := &recorder{}
	if err := c.Collect(context.Background(), sampleWindow(), rec); err != nil {
		t.Fatal(err)
	}
	if api.calls != 2 {
		t.Errorf("calls = %d, want 2", api.calls)
	}
	// Same numbers as TestMapSampleResponse: the pages add up to the full answer.
	collectorstest.DiffLines(t, collectorstest.Flatten(rec.Records()), []string{
		"cloudfront www all 1736935200/60 requests=125341 edge_bytes=5.3721458e+09 status_4xx=1042 status_5xx=27",
		"cloudfront www all 1736935260/60 requests=119872 edge_bytes=5.1030977e+09 status_4xx=953 status_5xx=22",
		"cloudfront www all 1736935320/60 requests=121004 edge_bytes=5.2441203e+09 status_4xx=980",
	})
}

// A Forbidden result and an API error name their distribution; the healthy
// distribution is still emitted.
func TestCollectFailuresPerDistribution(t *testing.T) {
	full, _ := sampleResults(t, "cloudwatch-getmetricdata-response.constructed.json")
	api := &fakeAPI{fn: func(dist string, _ *cloudwatch.GetMetricDataInput, _ int) (*cloudwatch.GetMetricDataOutput, error) {
		switch dist {
		case "EFORBIDDEN":
			return &cloudwatch.GetMetricDataOutput{MetricDataResults: []types.MetricDataResult{{
				Id: aws.String(idRequests), StatusCode: types.StatusCodeForbidden,
				Messages: []types.MessageData{{Code: aws.String("Forbidden"), Value: aws.String("not authorized to read AWS/CloudFront")}},
			}}}, nil
		case "EBROKEN":
			return nil, errors.New("operation error CloudWatch: GetMetricData, api error Throttling: Rate exceeded")
		case "ESTUCK":
			return &cloudwatch.GetMetricDataOutput{MetricDataResults: []types.MetricDataResult{{Id: aws.String(idRequests), StatusCode: types.StatusCodePartialData}}}, nil
		}
		return &cloudwatch.GetMetricDataOutput{MetricDataResults: full}, nil
	}}
	c, _ := fakeCollector(api,
		Distribution{ID: "EFORBIDDEN", Name: "shop"}, Distribution{ID: "EBROKEN"}, Distribution{ID: "ESTUCK", Name: "img"}, Distribution{ID: "EGOOD", Name: "www"})
	rec := &recorder{}
	err := c.Collect(context.Background(), sampleWindow(), rec)
	if err == nil {
		t.Fatal("no error")
	}
	for _, s := range []string{
		"cloudfront: distribution shop (EFORBIDDEN): GetMetricData: requests: status Forbidden (Forbidden: not authorized to read AWS/CloudFront)",
		"cloudfront: distribution EBROKEN (EBROKEN): GetMetricData: operation error CloudWatch: GetMetricData, api error Throttling: Rate exceeded",
		"cloudfront: distribution img (ESTUCK): GetMetricData: requests: PartialData without a NextToken",
	} {
		if !strings.Contains(err.Error(), s) {
			t.Errorf("error lacks %q:\n%v", s, err)
		}
	}
	if strings.Contains(err.Error(), "www") {
		t.Errorf("error blames the good distribution: %v", err)
	}
	if len(rec.Records()) != 3 || rec.Records()[0].Service != "www" {
		t.Errorf("records = %v", collectorstest.Flatten(rec.Records()))
	}
}

func TestCollectNoData(t *testing.T) {
	api := &fakeAPI{fn: func(string, *cloudwatch.GetMetricDataInput, int) (*cloudwatch.GetMetricDataOutput, error) {
		return &cloudwatch.GetMetricDataOutput{MetricDataResults: []types.MetricDataResult{{Id: aws.String(idRequests), StatusCode: types.StatusCodeComplete}}}, nil
	}}
	c, _ := fakeCollector(api, Distribution{ID: "E1"})
	if err := c.Collect(context.Background(), sampleWindow(), &recorder{}); !errors.Is(err, collectors.ErrNoData) {
		t.Fatalf("err = %v, want ErrNoData", err)
	}
}

func TestCollectEndlessPaging(t *testing.T) {
	api := &fakeAPI{fn: func(string, *cloudwatch.GetMetricDataInput, int) (*cloudwatch.GetMetricDataOutput, error) {
		return &cloudwatch.GetMetricDataOutput{NextToken: aws.String("again")}, nil
	}}
	c, _ := fakeCollector(api, Distribution{ID: "E1"})
	err := c.Collect(context.Background(), sampleWindow(), &recorder{})
	if err == nil || !strings.Contains(err.Error(), "NextToken after 100 pages") || api.calls != maxPages {
		t.Fatalf("err = %v after %d calls", err, api.calls)
	}
}

// newSDKCollector builds a collector through the factory path with static
// credentials, pointed at url.
func newSDKCollector(t *testing.T, url, secret string, dists ...Distribution) (*Collector, *bytes.Buffer) {
	t.Helper()
	o := defaultOptions()
	o.EndpointURL = url
	o.AccessKeyID = cloudfrontsim.AccessKeyID
	o.SecretKeyEnv = "CF_TEST_SECRET"
	o.Distributions = dists
	var logs bytes.Buffer
	env := collectors.Env{
		Logger: slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
		Getenv: func(k string) string {
			if k == "CF_TEST_SECRET" {
				return secret
			}
			return ""
		},
	}
	if ps := o.Validate(env); len(ps) > 0 {
		t.Fatalf("options: %v", ps)
	}
	c, err := New(o, env)
	if err != nil {
		t.Fatal(err)
	}
	return c, &logs
}

// The real SDK client talks RPC v2 CBOR to a hand-written handler: the
// request carries the documented members, and a hand-encoded CBOR answer
// (with CacheHitRate and OriginLatency) comes back as records and a gauge.
func TestSDKCBORRoundTrip(t *testing.T) {
	t0 := int64(1736935200)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/prefix"+cloudfrontsim.OperationPath || r.Method != http.MethodPost {
			t.Errorf("request %s %s", r.Method, r.URL.Path)
		}
		for h, want := range map[string]string{"Smithy-Protocol": "rpc-v2-cbor", "Content-Type": "application/cbor", "Accept": "application/cbor"} {
			if got := r.Header.Get(h); got != want {
				t.Errorf("header %s = %q, want %q", h, got, want)
			}
		}
		if auth := r.Header.Get("Authorization"); !strings.Contains(auth, "Credential="+cloudfrontsim.AccessKeyID+"/") || !strings.Contains(auth, "/us-east-1/monitoring/aws4_request") {
			t.Errorf("Authorization = %q", auth)
		}
		body, _ := io.ReadAll(r.Body)
		in, err := cloudfrontsim.DecodeRequest(body)
		if err != nil {
			t.Errorf("decode request: %v", err)
		}
		if in.Start.Unix() != t0 || in.End.Unix() != t0+180 || len(in.Queries) != len(metricSpecs) {
			t.Errorf("request = %+v", in)
		}
		v, _ := cbor.Decode(body)
		if sb := v.(cbor.Map)["ScanBy"]; sb != cbor.String("TimestampAscending") {
			t.Errorf("ScanBy = %v", sb)
		}
		for _, q := range in.Queries {
			if q.Namespace != namespace || q.Distribution != "E1ABCDEF2GHIJK" || q.Region != "Global" || q.Period != 60 {
				t.Errorf("query %+v", q)
			}
		}
		tag := func(s int64) cbor.Value { return &cbor.Tag{ID: 1, Value: cbor.Float64(float64(s))} }
		cloudfrontsim.WriteCBOR(w, 200, cbor.Map{
			"MetricDataResults": cbor.List{
				cbor.Map{"Id": cbor.String(idRequests), "StatusCode": cbor.String("Complete"),
					"Timestamps": cbor.List{tag(t0), tag(t0 + 60)}, "Values": cbor.List{cbor.Float64(2000), cbor.Float64(10)}},
				cbor.Map{"Id": cbor.String(idHitRate), "StatusCode": cbor.String("Complete"),
					"Timestamps": cbor.List{tag(t0)}, "Values": cbor.List{cbor.Float64(87.5)}},
				// An integer timestamp, which the protocol also allows.
				cbor.Map{"Id": cbor.String(idLatency), "StatusCode": cbor.String("Complete"),
					"Timestamps": cbor.List{&cbor.Tag{ID: 1, Value: cbor.Uint(t0 + 60)}}, "Values": cbor.List{cbor.Float64(31.25)}},
			},
			"Messages": cbor.List{},
		})
	}))
	defer srv.Close()
	c, _ := newSDKCollector(t, srv.URL+"/prefix", "s3cr3t-value", Distribution{ID: "E1ABCDEF2GHIJK", Name: "www"})
	rec := &recorder{}
	if err := c.Collect(context.Background(), sampleWindow(), rec); err != nil {
		t.Fatal(err)
	}
	// Minute 0: hits round(87.5/100 × 2000) = 1750, misses 2000-1750 = 250.
	collectorstest.DiffLines(t, collectorstest.Flatten(rec.Records()), []string{
		"cloudfront www all 1736935200/60 requests=2000 hits=1750 misses=250",
		"cloudfront www all 1736935260/60 requests=10",
	})
	if len(rec.Gauges()) != 1 || rec.Gauges()[0].Value != 31.25 || rec.Gauges()[0].Time != t0+60 || rec.Gauges()[0].Metric != "origin_latency_ms" {
		t.Errorf("gauges = %+v", rec.Gauges())
	}
}

// simSetup mounts the stand-in under /cloudfront (as the simulator does)
// and builds the collector from the simulator's config section through the factory.
func simSetup(t testing.TB, m *traffic.Model, now time.Time, secret string) (*Collector, *bytes.Buffer) {
	t.Helper()
	var logs bytes.Buffer
	env := collectors.Env{
		Logger: slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
		Getenv: collectorstest.SimEnv(secret),
	}
	opts, factory := collectorstest.SimOptions(t, provider, simulate.Env{Model: m, Now: func() time.Time { return now }, Secret: func(string) string { return collectors.SimSecret }}, env)
	c, err := factory.New(opts, env)
	if err != nil {
		t.Fatal(err)
	}
	return c.(*Collector), &logs
}

func TestSimulateCollectEqualsExpect(t *testing.T) {
	m := traffic.Default(11)
	base := int64(1767225600) // 2026-01-01T00:00:00Z
	m.Incidents = []traffic.Incident{{Service: "static", Start: base + 600, End: base + 900, HitRatioDelta: -0.5, ErrorRate: 0.2}}
	now := time.Unix(base+3*3600, 0)
	c, _ := simSetup(t, m, now, collectors.SimSecret)
	// 90 minutes: the stand-in pages at 60, so this also exercises NextToken.
	w := collectors.Window{Start: time.Unix(base, 0), End: time.Unix(base+90*60, 0)}
	rec := &recorder{}
	if err := c.Collect(context.Background(), w, rec); err != nil {
		t.Fatal(err)
	}
	want := cloudfrontsim.Expect(m, w)
	if len(want) != 3*90 {
		t.Errorf("Expect gave %d records, want 270", len(want))
	}
	collectorstest.DiffLines(t, collectorstest.Flatten(rec.Records()), collectorstest.Flatten(want))
	if len(rec.Gauges()) != 0 {
		t.Errorf("gauges from a stand-in without OriginLatency: %v", rec.Gauges())
	}
}

func TestSimulateLagAndAuth(t *testing.T) {
	m := traffic.Default(2)
	now := time.Unix(1767225600+3600, 0)
	c, _ := simSetup(t, m, now, collectors.SimSecret)
	// Data ends cloudfrontsim.Lag (3 min) before now.
	w := collectors.Window{Start: now.Add(-10 * time.Minute), End: now}
	rec := &recorder{}
	if err := c.Collect(context.Background(), w, rec); err != nil {
		t.Fatal(err)
	}
	collectorstest.DiffLines(t, collectorstest.Flatten(rec.Records()), collectorstest.Flatten(cloudfrontsim.Expect(m, collectors.Window{Start: w.Start, End: now.Add(-cloudfrontsim.Lag)})))
	if err := c.Collect(context.Background(), collectors.Window{Start: now.Add(-2 * time.Minute), End: now}, &recorder{}); !errors.Is(err, collectors.ErrNoData) {
		t.Errorf("err = %v, want ErrNoData", err)
	}

	const wrong = "not-the-simulator-secret-9f8e"
	c, logs := simSetup(t, m, now, wrong)
	err := c.Collect(context.Background(), w, &recorder{})
	if err == nil || !strings.Contains(err.Error(), "SignatureDoesNotMatch") || !strings.Contains(err.Error(), "distribution www") {
		t.Fatalf("err = %v", err)
	}
	if strings.Contains(err.Error(), wrong) || strings.Contains(logs.String(), wrong) {
		t.Errorf("secret leaked: %v / %s", err, logs)
	}
}

func TestValidate(t *testing.T) {
	env := collectors.Env{Getenv: func(k string) string {
		if k == "SET" {
			return "x"
		}
		return ""
	}}
	cases := []struct {
		name   string
		mutate func(o *Options)
		want   []string
	}{
		{"ok default chain", func(o *Options) {}, nil},
		{"static ok", func(o *Options) { o.AccessKeyID, o.SecretKeyEnv = "AKID", "SET" }, nil},
		{"static unset", func(o *Options) { o.AccessKeyID, o.SecretKeyEnv = "AKID", "UNSET" }, []string{"cloudfront.secret_key_env"}},
		{"static no secret", func(o *Options) { o.AccessKeyID = "AKID" }, []string{"cloudfront.secret_key_env"}},
		{"secret without id", func(o *Options) { o.SecretKeyEnv = "SET" }, []string{"cloudfront.access_key_id"}},
		{"missing file", func(o *Options) { o.AccessKeyID, o.SecretKeyFile = "AKID", "/nonexistent" }, []string{"cloudfront.secret_key_file"}},
		{"profile and static", func(o *Options) { o.AccessKeyID, o.SecretKeyEnv, o.Profile = "AKID", "SET", "p" }, []string{"cloudfront.profile"}},
		{"other region", func(o *Options) { o.Region = "eu-west-1" }, []string{"cloudfront.region"}},
		{"bad endpoint", func(o *Options) { o.EndpointURL = "localhost:9000" }, []string{"cloudfront.endpoint_url"}},
		{"none", func(o *Options) { o.Distributions = nil }, []string{"cloudfront.distribution"}},
		{"dups", func(o *Options) {
			o.Distributions = append(o.Distributions, Distribution{ID: "E1"}, Distribution{ID: "E3", Name: "Www"}, Distribution{})
		}, []string{"cloudfront.distribution[2].id", "cloudfront.distribution[3].name", "cloudfront.distribution[4].id"}},
	}
	for _, tc := range cases {
		o := defaultOptions()
		o.Distributions = []Distribution{{ID: "E1", Name: "www"}, {ID: "E2", Name: "api"}}
		tc.mutate(o)
		var keys []string
		for _, p := range o.Validate(env) {
			keys = append(keys, p.Key)
		}
		if strings.Join(keys, ",") != strings.Join(tc.want, ",") {
			t.Errorf("%s: problems %v, want keys %v", tc.name, o.Validate(env), tc.want)
		}
	}
}

// A modelled error (the sample's __type and message, carried in CBOR as
// the RPC v2 protocol does) comes back through the SDK naming the
// distribution, the code and the message.
func TestSDKErrorAnswer(t *testing.T) {
	var sample struct {
		Type    string `json:"__type"`
		Message string `json:"message"`
	}
	b, err := os.ReadFile("testdata/cloudwatch-error-awsjson.constructed.json")
	if err == nil {
		err = json.Unmarshal(b, &sample)
	}
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		cloudfrontsim.CBORError(w, http.StatusBadRequest, sample.Type, sample.Message)
	}))
	defer srv.Close()
	c, logs := newSDKCollector(t, srv.URL, "s3cr3t-value", Distribution{ID: "E1ABCDEF2GHIJK", Name: "www"}, Distribution{ID: "E2", Name: "api"})
	err = c.Collect(context.Background(), sampleWindow(), &recorder{})
	if err == nil {
		t.Fatal("no error")
	}
	t.Log(err)
	for _, s := range []string{"distribution www (E1ABCDEF2GHIJK)", "distribution api (E2)", "InvalidParameterValue", "MetricDataQueries.member.1.MetricStat.Period"} {
		if !strings.Contains(err.Error(), s) {
			t.Errorf("error lacks %q: %v", s, err)
		}
	}
	if strings.Contains(err.Error(), "s3cr3t-value") || strings.Contains(logs.String(), "s3cr3t-value") {
		t.Error("secret leaked")
	}
}
