package cloudfrontsim

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/smithy-go/encoding/cbor"

	"github.com/cdnmetrics/cdnmetrics/collectors"
	"github.com/cdnmetrics/cdnmetrics/internal/schema"
	"github.com/cdnmetrics/cdnmetrics/internal/simulate"
	"github.com/cdnmetrics/cdnmetrics/internal/traffic"
)

// CloudWatch as the stand-in serves it: CloudFront's metrics are global,
// published in us-east-1 under the AWS/CloudFront namespace per minute.
const (
	provider      = "cloudfront"
	namespace     = "AWS/CloudFront"
	period        = 60
	defaultRegion = "us-east-1"
)

// AccessKeyID is the access key id the stand-in accepts (with the
// secret collectors.SimSecret).
const AccessKeyID = "cdnmetrics-sim"

// OperationPath is where the SDK's RPC v2 CBOR protocol posts GetMetricData.
const OperationPath = "/service/GraniteServiceVersion20100801/operation/GetMetricData"

const (
	// Lag is how far behind the stand-in's clock its data ends.
	Lag = 3 * time.Minute
	// simPageMinutes is how many minutes one answer page covers; longer
	// windows are answered with PartialData and a NextToken.
	simPageMinutes = 60
)

// Serve registers the CloudWatch GetMetricData stand-in serving the
// model's services as distributions, in RPC v2 CBOR, checking SigV4.
func Serve(mux *http.ServeMux, sim simulate.Env) {
	// The provider\'s own character, when the model gives it one.
	sim.Model = sim.Model.For(provider)
	s := &stand{sim: sim}
	mux.HandleFunc("POST "+OperationPath, s.getMetricData)
}

// Config returns the [cloudfront] section pointing at the stand-in with
// static credentials: the access key id inline (it is not a secret), the
// secret from the environment variable collectors.SimSecretEnv.
func Config(baseURL, _ string) (string, error) {
	var b strings.Builder
	fmt.Fprintf(&b, "[cloudfront]\nendpoint_url = %q\nregion = %q\naccess_key_id = %q\nsecret_key_env = %q\nschedule = \"@every 1m\"\n",
		baseURL, defaultRegion, AccessKeyID, collectors.SimSecretEnv)
	for _, s := range traffic.Default(0).Services {
		fmt.Fprintf(&b, "\n[[cloudfront.distribution]]\nid = %q\nname = %q\n", s.ID, s.Name)
	}
	return b.String(), nil
}

// simMinute is what the stand-in publishes for one service and minute; ok
// is false for a minute without requests (CloudWatch leaves it out).
func simMinute(m *traffic.Model, svc int, t int64) (vals map[string]float64, ok bool) {
	s := m.SumAll(svc, t, t+period)
	if s.Requests == 0 {
		return nil, false
	}
	r := float64(s.Requests)
	vals = map[string]float64{
		"Requests":        r,
		"BytesDownloaded": float64(s.EdgeBytes()),
		"4xxErrorRate":    100 * float64(s.Status4xx) / r,
		"5xxErrorRate":    100 * float64(s.Status5xx) / r,
	}
	// CloudFront's hit rate is over cacheable requests; in the model those
	// are hits and misses (passes are not cacheable).
	if c := s.Hits + s.Misses; c > 0 {
		vals["CacheHitRate"] = 100 * float64(s.Hits) / float64(c)
	}
	return vals, true
}

// Expect returns the records Collect emits over w from the stand-in as
// Config configures it: CloudWatch's rates (percent of requests) turned
// back into counts as CloudFront documents them, rounded to whole requests.
func Expect(m *traffic.Model, w collectors.Window) []schema.Record {
	m = m.For(provider) // what Serve serves
	var out []schema.Record
	for si, svc := range m.Services {
		for t := ceilMinute(w.Start); t < w.End.Unix(); t += period {
			v, ok := simMinute(m, si, t)
			if !ok {
				continue
			}
			r := schema.Record{Provider: provider, Service: svc.Name, Location: schema.LocationAll, Start: t, Step: period}
			req := v["Requests"]
			r.Set(schema.Requests, req)
			r.Set(schema.EdgeBytes, v["BytesDownloaded"])
			r.Set(schema.Status4xx, math.Round(v["4xxErrorRate"]/100*req))
			r.Set(schema.Status5xx, math.Round(v["5xxErrorRate"]/100*req))
			if hr, ok := v["CacheHitRate"]; ok {
				h := math.Round(hr / 100 * req)
				r.Set(schema.Hits, h)
				r.Set(schema.Misses, req-h)
			}
			out = append(out, r)
		}
	}
	return out
}

func ceilMinute(t time.Time) int64 {
	u := t.Unix()
	if r := u % period; r != 0 {
		u += period - r
	} else if t.Nanosecond() != 0 {
		u += period
	}
	return u
}

type stand struct {
	sim simulate.Env
}

func (s *stand) secret() string {
	if s.sim.Secret != nil {
		return s.sim.Secret(provider)
	}
	return collectors.SimSecret
}

func (s *stand) now() time.Time {
	if s.sim.Now != nil {
		return s.sim.Now()
	}
	return time.Now()
}

// WriteCBOR answers v in the RPC v2 CBOR protocol.
func WriteCBOR(w http.ResponseWriter, status int, v cbor.Value) {
	w.Header().Set("Content-Type", "application/cbor")
	w.Header().Set("Smithy-Protocol", "rpc-v2-cbor")
	w.WriteHeader(status)
	_, _ = w.Write(cbor.Encode(v))
}

// CBORError answers a modelled error: CloudWatch's query-compatible
// services also send x-amzn-query-error.
func CBORError(w http.ResponseWriter, status int, code, msg string) {
	short := code[strings.LastIndex(code, "#")+1:]
	w.Header().Set("X-Amzn-Query-Error", strings.TrimSuffix(short, "Exception")+";Sender")
	WriteCBOR(w, status, cbor.Map{"__type": cbor.String(code), "message": cbor.String(msg)})
}

func (s *stand) getMetricData(w http.ResponseWriter, r *http.Request) {
	if r.Header.Get("Smithy-Protocol") != "rpc-v2-cbor" {
		CBORError(w, http.StatusBadRequest, "InvalidRequest", "expected header smithy-protocol: rpc-v2-cbor")
		return
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	if err != nil {
		CBORError(w, http.StatusBadRequest, "InvalidRequest", "cannot read body")
		return
	}
	if code, err := verifySigV4(r, body, s.secret()); err != nil {
		CBORError(w, http.StatusForbidden, code, err.Error())
		return
	}
	in, err := DecodeRequest(body)
	if err != nil {
		CBORError(w, http.StatusBadRequest, "InvalidParameterValue", err.Error())
		return
	}
	end := in.End.Unix()
	if last := s.now().Add(-Lag).Unix(); end > last-last%period {
		end = last - last%period
	}
	pageStart := ceilMinute(in.Start)
	if in.NextToken != "" {
		n, err := strconv.ParseInt(in.NextToken, 10, 64)
		if err != nil || n < pageStart || n%period != 0 {
			CBORError(w, http.StatusBadRequest, "InvalidNextToken", "the NextToken is not valid")
			return
		}
		pageStart = n
	}
	pageEnd := min(end, pageStart+simPageMinutes*period)
	more := pageEnd < end
	status := "Complete"
	if more {
		status = "PartialData"
	}
	// Every query of a distribution reads the same minutes: sum them once.
	type key struct {
		svc int
		t   int64
	}
	minutes := map[key]map[string]float64{}
	minute := func(svc int, t int64) (map[string]float64, bool) {
		k := key{svc, t}
		if v, ok := minutes[k]; ok {
			return v, v != nil
		}
		v, _ := simMinute(s.sim.Model, svc, t)
		minutes[k] = v
		return v, v != nil
	}
	results := cbor.List{}
	for _, q := range in.Queries {
		ts, vs := cbor.List{}, cbor.List{}
		if svc := s.service(q); svc >= 0 {
			for t := pageStart; t < pageEnd; t += period {
				if v, ok := minute(svc, t); ok {
					if x, ok := v[q.Metric]; ok {
						ts = append(ts, &cbor.Tag{ID: 1, Value: cbor.Float64(float64(t))})
						vs = append(vs, cbor.Float64(x))
					}
				}
			}
		}
		results = append(results, cbor.Map{
			"Id": cbor.String(q.ID), "Label": cbor.String(q.Metric), "StatusCode": cbor.String(status),
			"Timestamps": ts, "Values": vs,
		})
	}
	out := cbor.Map{"MetricDataResults": results, "Messages": cbor.List{}}
	if more {
		out["NextToken"] = cbor.String(strconv.FormatInt(pageEnd, 10))
	}
	WriteCBOR(w, http.StatusOK, out)
}

// service returns the model service a query is about, or -1 when the query
// matches no published metric (CloudWatch then answers an empty series).
func (s *stand) service(q Query) int {
	if q.Namespace != namespace || q.Region != "Global" || q.Period != period {
		return -1
	}
	for i, sv := range s.sim.Model.Services {
		if sv.ID == q.Distribution {
			return i
		}
	}
	return -1
}

// Query is one MetricDataQuery as the stand-in reads it.
type Query struct {
	ID, Metric, Namespace, Distribution, Region, Stat string
	Period                                            int64
}

// Request is the GetMetricData input as the stand-in reads it.
type Request struct {
	Queries    []Query
	Start, End time.Time
	NextToken  string
}

// DecodeRequest reads the GetMetricData input members the stand-in needs.
func DecodeRequest(body []byte) (Request, error) {
	var req Request
	v, err := cbor.Decode(body)
	if err != nil {
		return req, fmt.Errorf("body is not CBOR: %v", err)
	}
	m, ok := v.(cbor.Map)
	if !ok {
		return req, errors.New("body is not a CBOR map")
	}
	if req.Start, err = cbor.AsTime(m["StartTime"]); err != nil {
		return req, fmt.Errorf("StartTime: %v", err)
	}
	if req.End, err = cbor.AsTime(m["EndTime"]); err != nil {
		return req, fmt.Errorf("EndTime: %v", err)
	}
	if !req.Start.Before(req.End) {
		return req, errors.New("the parameter StartTime must be less than the parameter EndTime")
	}
	if t, ok := m["NextToken"].(cbor.String); ok {
		req.NextToken = string(t)
	}
	qs, ok := m["MetricDataQueries"].(cbor.List)
	if !ok || len(qs) == 0 || len(qs) > 500 {
		return req, errors.New("MetricDataQueries must hold 1 to 500 queries")
	}
	for i, qv := range qs {
		qm, _ := qv.(cbor.Map)
		ms, _ := qm["MetricStat"].(cbor.Map)
		metric, _ := ms["Metric"].(cbor.Map)
		q := Query{ID: str(qm["Id"]), Stat: str(ms["Stat"]), Metric: str(metric["MetricName"]), Namespace: str(metric["Namespace"])}
		if q.ID == "" || q.Metric == "" {
			return req, fmt.Errorf("MetricDataQueries[%d] needs Id and MetricStat.Metric.MetricName", i)
		}
		if p, err := cbor.AsInt64(ms["Period"]); err == nil {
			q.Period = p
		}
		dims, _ := metric["Dimensions"].(cbor.List)
		for _, dv := range dims {
			dm, _ := dv.(cbor.Map)
			switch str(dm["Name"]) {
			case "DistributionId":
				q.Distribution = str(dm["Value"])
			case "Region":
				q.Region = str(dm["Value"])
			}
		}
		req.Queries = append(req.Queries, q)
	}
	return req, nil
}

func str(v cbor.Value) string {
	s, _ := v.(cbor.String)
	return string(s)
}

// verifySigV4 recomputes the request's SigV4 signature with the simulator's
// secret and compares it. It returns the AWS error code on failure.
func verifySigV4(r *http.Request, body []byte, secret string) (string, error) {
	const scheme = "AWS4-HMAC-SHA256 "
	auth := r.Header.Get("Authorization")
	if !strings.HasPrefix(auth, scheme) {
		return "MissingAuthenticationToken", errors.New("request is missing a SigV4 Authorization header")
	}
	fields := map[string]string{}
	for _, kv := range strings.Split(strings.TrimPrefix(auth, scheme), ",") {
		k, v, _ := strings.Cut(strings.TrimSpace(kv), "=")
		fields[k] = v
	}
	scope := strings.Split(fields["Credential"], "/")
	if len(scope) != 5 || scope[4] != "aws4_request" {
		return "IncompleteSignature", errors.New("malformed Credential in Authorization")
	}
	if scope[0] != AccessKeyID {
		return "UnrecognizedClientException", errors.New("the security token included in the request is invalid")
	}
	at, err := time.Parse("20060102T150405Z", r.Header.Get("X-Amz-Date"))
	if err != nil {
		return "IncompleteSignature", errors.New("missing or malformed X-Amz-Date")
	}
	// Re-sign a copy holding only the signed headers, at the original
	// request URI (the simulator strips its mount prefix from r.URL).
	cp, err := http.NewRequestWithContext(context.Background(), r.Method, "http://"+r.Host+r.RequestURI, bytes.NewReader(body))
	if err != nil {
		return "IncompleteSignature", err
	}
	for _, h := range strings.Split(fields["SignedHeaders"], ";") {
		if h == "host" || h == "content-length" || h == "" {
			continue
		}
		cp.Header[http.CanonicalHeaderKey(h)] = r.Header.Values(h)
	}
	cp.Host = r.Host
	cp.ContentLength = int64(len(body))
	sum := sha256.Sum256(body)
	creds := aws.Credentials{AccessKeyID: scope[0], SecretAccessKey: secret}
	if err := v4.NewSigner().SignHTTP(context.Background(), creds, cp, hex.EncodeToString(sum[:]), scope[3], scope[2], at); err != nil {
		return "IncompleteSignature", err
	}
	want := ""
	for _, kv := range strings.Split(strings.TrimPrefix(cp.Header.Get("Authorization"), scheme), ",") {
		if k, v, _ := strings.Cut(strings.TrimSpace(kv), "="); k == "Signature" {
			want = v
		}
	}
	if want == "" || !hmac.Equal([]byte(want), []byte(fields["Signature"])) {
		return "SignatureDoesNotMatch", errors.New("the request signature we calculated does not match the signature you provided")
	}
	return "", nil
}
