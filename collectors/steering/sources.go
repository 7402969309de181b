package steering

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/route53"
	"github.com/aws/aws-sdk-go-v2/service/route53/types"

	"github.com/cdnmetrics/cdnmetrics/collectors"
	"github.com/cdnmetrics/cdnmetrics/internal/httpx"
	"github.com/cdnmetrics/cdnmetrics/internal/schema"
)

// reader reads one service's current weights.
type reader interface {
	read(ctx context.Context) (Weights, error)
}

// maxDocBytes caps a weights document (file or HTTP body).
const maxDocBytes = 64 << 10

// fileReader reads a JSON file on every run, so an edit (or a deploy tool
// rewriting it) is seen at the next run.
type fileReader struct{ path string }

func (f fileReader) read(context.Context) (Weights, error) {
	fh, err := os.Open(f.path)
	if err != nil {
		return nil, err
	}
	defer fh.Close()
	data, err := io.ReadAll(io.LimitReader(fh, maxDocBytes+1))
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", f.path, err)
	}
	if len(data) > maxDocBytes {
		return nil, fmt.Errorf("%s: larger than %d bytes", f.path, maxDocBytes)
	}
	w, err := ParseWeights(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", f.path, err)
	}
	return w, nil
}

// httpReader GETs the same JSON document from a steering service.
type httpReader struct {
	client *httpx.Client
	url    string
	token  string
}

func (h httpReader) read(ctx context.Context) (Weights, error) {
	hdr := http.Header{"Accept": {"application/json"}}
	if h.token != "" {
		hdr.Set("Authorization", "Bearer "+h.token)
	}
	resp, err := h.client.Do(ctx, httpx.Request{Method: http.MethodGet, URL: h.url, Header: hdr, Endpoint: "GET weights"})
	if err != nil {
		return nil, err
	}
	w, err := ParseWeights(resp.Body)
	if err != nil {
		return nil, fmt.Errorf("steering: GET weights: %w", err)
	}
	return w, nil
}

// route53API is the one call the Route 53 reader makes.
type route53API interface {
	ListResourceRecordSets(ctx context.Context, in *route53.ListResourceRecordSetsInput, opts ...func(*route53.Options)) (*route53.ListResourceRecordSetsOutput, error)
}

// route53Reader reads the weighted records of one name and type.
type route53Reader struct {
	api       route53API
	zone      string
	name      string
	rtype     types.RRType
	providers map[string]string // SetIdentifier → sanitised provider
	logger    *slog.Logger
}

// maxRoute53Pages bounds one read: a weighted set has at most 100 records
// per name and type, so a few pages reach past it whatever the zone holds.
const maxRoute53Pages = 10

func (r route53Reader) read(ctx context.Context) (Weights, error) {
	in := &route53.ListResourceRecordSetsInput{
		HostedZoneId:    aws.String(r.zone),
		StartRecordName: aws.String(r.name),
		StartRecordType: r.rtype,
		MaxItems:        aws.Int32(100),
	}
	w := Weights{}
	weighted := 0
	for page := 0; ; page++ {
		if page == maxRoute53Pages {
			return nil, fmt.Errorf("route53: more than %d pages for %s %s", maxRoute53Pages, r.name, r.rtype)
		}
		out, err := r.api.ListResourceRecordSets(ctx, in)
		if err != nil {
			return nil, fmt.Errorf("route53: ListResourceRecordSets: %w", err)
		}
		done := false
		for _, rs := range out.ResourceRecordSets {
			// Records come sorted by name then type from the start
			// asked for: the first other name or type ends the set.
			if !sameName(aws.ToString(rs.Name), r.name) || rs.Type != r.rtype {
				done = true
				break
			}
			if rs.Weight == nil {
				continue // not a weighted record (a simple or latency one)
			}
			weighted++
			id := aws.ToString(rs.SetIdentifier)
			p, ok := r.providers[id]
			if !ok {
				r.logger.Warn("route53 weighted record with a set identifier not in providers: ignored", "record", r.name, "set_identifier", id, "weight", *rs.Weight)
				continue
			}
			if err := checkEntry(p, float64(*rs.Weight)); err != nil {
				return nil, fmt.Errorf("route53: %s: %w", id, err)
			}
			w[p] += float64(*rs.Weight)
		}
		if done || !out.IsTruncated {
			break
		}
		in.StartRecordName = out.NextRecordName
		in.StartRecordType = out.NextRecordType
		in.StartRecordIdentifier = out.NextRecordIdentifier
	}
	if weighted == 0 {
		return nil, fmt.Errorf("route53: no weighted %s records named %s in the zone", r.rtype, r.name)
	}
	return w, nil
}

// sameName compares DNS names as Route 53 returns them: lower case with
// the final dot, and "*" escaped as \052.
func sameName(got, want string) bool {
	norm := func(s string) string {
		s = strings.ToLower(strings.ReplaceAll(s, `\052`, "*"))
		return strings.TrimSuffix(s, ".")
	}
	return norm(got) == norm(want)
}

// newReader builds the reader of source s.
func newReader(s Source, env collectors.Env, timeoutOpt httpx.Option, logger *slog.Logger) (reader, error) {
	switch s.Kind {
	case KindFile:
		return fileReader{path: s.Path}, nil
	case KindHTTP:
		var token string
		if s.TokenFile != "" || s.TokenEnv != "" {
			t, err := env.Secret(Name, "token_file", s.TokenFile, s.TokenEnv)
			if err != nil {
				return nil, err
			}
			token = t
		}
		opts := []httpx.Option{httpx.WithLogger(logger), httpx.WithMaxBody(maxDocBytes), timeoutOpt}
		if env.HTTPClient != nil {
			opts = append(opts, httpx.WithHTTPClient(env.HTTPClient))
		}
		return httpReader{client: httpx.New(Name, opts...), url: s.URL, token: token}, nil
	case KindRoute53:
		region := s.Region
		if region == "" {
			region = defaultRegion
		}
		lo := []func(*config.LoadOptions) error{config.WithRegion(region)}
		if s.AccessKeyID != "" {
			secret, err := env.Secret(Name, "secret_key_file", s.SecretKeyFile, s.SecretKeyEnv)
			if err != nil {
				return nil, err
			}
			lo = append(lo, config.WithCredentialsProvider(credentials.NewStaticCredentialsProvider(s.AccessKeyID, secret, "")))
		} else if s.Profile != "" {
			lo = append(lo, config.WithSharedConfigProfile(s.Profile))
		}
		cfg, err := config.LoadDefaultConfig(context.Background(), lo...)
		if err != nil {
			return nil, fmt.Errorf("steering: load AWS configuration: %w", err)
		}
		api := route53.NewFromConfig(cfg, func(o *route53.Options) {
			if s.EndpointURL != "" {
				o.BaseEndpoint = aws.String(s.EndpointURL)
			}
		})
		provs := make(map[string]string, len(s.Providers))
		for id, p := range s.Providers {
			provs[id] = schema.Sanitize(p)
		}
		return route53Reader{api: api, zone: s.HostedZoneID, name: s.RecordName, rtype: types.RRType(s.RecordType), providers: provs, logger: logger}, nil
	}
	return nil, fmt.Errorf("steering: unknown kind %q", s.Kind)
}
