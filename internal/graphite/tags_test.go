package graphite

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/cdnmetrics/cdnmetrics/internal/schema"
)

var tagPoints = []schema.Point{
	{Path: "cdn.fastly.www.lhr.requests", Value: 10, Time: 1700000000},
	{Path: "cdn.cdnmetrics.sink.sent_points", Value: 3, Time: 1700000000},
	{Path: "cdn.events.deploy.www", Value: 1, Time: 1700000000},
}

// The dry-run writer prints what carbon would get in each tag mode.
func TestWriterSinkTags(t *testing.T) {
	const (
		dotted = "cdn.fastly.www.lhr.requests 10 1700000000\n"
		tagged = "cdn.requests;provider=fastly;service=www;location=lhr 10 1700000000\n"
		rest   = "cdn.cdnmetrics.sink.sent_points 3 1700000000\ncdn.events.deploy.www 1 1700000000\n"
	)
	for mode, want := range map[string]string{
		"":              dotted + rest,
		schema.TagsOff:  dotted + rest,
		schema.TagsBoth: dotted + tagged + rest,
		schema.TagsOnly: tagged + rest,
	} {
		var out bytes.Buffer
		w := NewWriterSink(&out, WithTags("cdn", mode))
		if err := w.Send(context.Background(), tagPoints); err != nil {
			t.Fatal(err)
		}
		if err := w.Close(context.Background()); err != nil {
			t.Fatal(err)
		}
		if out.String() != want {
			t.Errorf("tags %q:\n%s\nwant:\n%s", mode, out.String(), want)
		}
		if n := uint64(strings.Count(want, "\n")); w.Stats().SentPoints != n {
			t.Errorf("tags %q: SentPoints %d, want %d (lines)", mode, w.Stats().SentPoints, n)
		}
	}
}

// TCPSink writes the same lines to carbon; a tagged line over carbon's
// limit is dropped and counted, the dotted one still goes out.
func TestTCPSinkTags(t *testing.T) {
	f := newFakeCarbon(t)
	s := newSink(t, f.addr, WithTags("cdn", schema.TagsBoth))
	long := schema.Point{Path: "cdn.fastly." + strings.Repeat("s", MaxLineBytes-60) + ".lhr.requests", Value: 1, Time: 1700000000}
	if err := s.Send(ctxT(t, 5*time.Second), append(append([]schema.Point(nil), tagPoints...), long)); err != nil {
		t.Fatal(err)
	}
	if err := s.Flush(ctxT(t, 5*time.Second)); err != nil {
		t.Fatal(err)
	}
	f.waitAll([]string{
		"cdn.fastly.www.lhr.requests 10 1700000000",
		"cdn.requests;provider=fastly;service=www;location=lhr 10 1700000000",
		"cdn.cdnmetrics.sink.sent_points 3 1700000000",
		"cdn.events.deploy.www 1 1700000000",
		strings.TrimSuffix(string(AppendLine(nil, long)), "\n"),
	}, 5*time.Second)
	if st := s.Stats(); st.DroppedInvalid != 1 || st.SentPoints != 5 {
		t.Errorf("stats %+v, want 1 invalid (the long tagged line), 5 sent", st)
	}
	if _, err := New(f.addr, WithTags("cdn", "yes")); err == nil {
		t.Error("New accepted tags mode \"yes\"")
	}
}
