package collectors

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/BurntSushi/toml"
)

type fakeOpts struct {
	Cron  string `toml:"cron"`
	Depth int    `toml:"depth"`
}

func (o *fakeOpts) Validate(Env) []Problem { return nil }
func (o *fakeOpts) Schedule() string       { return o.Cron }

type otherOpts struct{ fakeOpts }

type fakeCollector struct{ o *fakeOpts }

func (c *fakeCollector) Collect(context.Context, Window, Emitter) error { return nil }

func TestDecoderKeepsDefaults(t *testing.T) {
	var raw map[string]toml.Primitive
	md, err := toml.Decode("[fake]\ndepth = 3\n", &raw)
	if err != nil {
		t.Fatal(err)
	}
	dec := Decoder(func() *fakeOpts { return &fakeOpts{Cron: "@every 1m", Depth: 1} })
	o, err := dec(NewSection("fake", &md, raw["fake"]))
	if err != nil {
		t.Fatal(err)
	}
	if f := o.(*fakeOpts); f.Cron != "@every 1m" || f.Depth != 3 {
		t.Errorf("decoded %+v, want the default cron and depth 3", *f)
	}
}

func TestBuilder(t *testing.T) {
	fail := errors.New("boom")
	build := Builder("fake", func(o *fakeOpts, _ Env) (*fakeCollector, error) {
		if o.Depth < 0 {
			return nil, fail
		}
		return &fakeCollector{o: o}, nil
	})
	c, err := build(&fakeOpts{Depth: 1}, Env{})
	if err != nil || c.(*fakeCollector).o.Depth != 1 {
		t.Fatalf("build: %v %v", c, err)
	}
	// A failed build gives a nil Collector, not a nil *fakeCollector in one.
	if c, err := build(&fakeOpts{Depth: -1}, Env{}); !errors.Is(err, fail) || c != nil {
		t.Errorf("failed build returned %#v, %v; want nil, boom", c, err)
	}
	// Another collector's options: an error naming this one, no panic.
	if _, err := build(&otherOpts{}, Env{}); err == nil || !strings.HasPrefix(err.Error(), "fake: options of type *collectors.otherOpts") {
		t.Errorf("wrong options type: %v", err)
	}
}
