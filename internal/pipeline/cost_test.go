package pipeline

import (
	"bytes"
	"context"
	"log/slog"
	"math"
	"strconv"
	"strings"
	"testing"

	"github.com/cdnmetrics/cdnmetrics/collectors"
	"github.com/cdnmetrics/cdnmetrics/internal/cost"
	"github.com/cdnmetrics/cdnmetrics/internal/graphite"
	"github.com/cdnmetrics/cdnmetrics/internal/schema"
)

// A batch of POP records is priced at its derived `all`: lhr 1 GB and
// 1,000 requests plus fra 2 GB and 3,000 requests = 3 GB × 0.1 + 4,000 ×
// 0.01 / 10,000 = 0.304. Another provider is not priced.
func TestCostFromDerivedAll(t *testing.T) {
	m, err := cost.NewMeter(map[string]cost.Plan{"fastly": {Currency: "USD", PerGB: [][]float64{{0, 0.1}}, Per10kRequests: 0.01}}, "", nil)
	if err != nil {
		t.Fatal(err)
	}
	var out, errb bytes.Buffer
	sink := graphite.NewWriterSink(&out)
	p := New(Options{Prefix: "cdn", Sink: sink, Logger: slog.New(slog.NewTextHandler(&errb, nil)), Cost: m})
	rec := func(prov, loc string, gb, n float64) schema.Record {
		r := schema.Record{Provider: prov, Service: "www", Location: loc, Start: 1700000040, Step: 60}
		r.Set(schema.EdgeBytes, gb*1e9)
		r.Set(schema.Requests, n)
		return r
	}
	b := collectors.Batch{Records: []schema.Record{rec("fastly", "lhr", 1, 1000), rec("fastly", "fra", 2, 3000), rec("akamai", "lhr", 5, 5)}}
	if err := p.Emitter("fastly").Emit(context.Background(), b); err != nil {
		t.Fatal(err)
	}
	if err := sink.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	got := map[string]float64{}
	for _, l := range strings.Split(out.String(), "\n") {
		if f := strings.Fields(l); len(f) == 3 && strings.HasSuffix(f[0], ".cost") {
			v, _ := strconv.ParseFloat(f[1], 64)
			got[f[0]+"@"+f[2]] = v
		}
	}
	if len(got) != 1 || math.Abs(got["cdn.fastly.www.all.cost@1700000040"]-0.304) > 1e-12 {
		t.Fatalf("cost points %v, want only cdn.fastly.www.all.cost@1700000040 = 0.304", got)
	}
}
