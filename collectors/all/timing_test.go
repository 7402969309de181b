package all_test

import (
	"testing"
	"time"

	"github.com/BurntSushi/toml"

	"github.com/cdnmetrics/cdnmetrics/collectors"
	_ "github.com/cdnmetrics/cdnmetrics/collectors/all"
)

// TestWindowKeysOverrideTiming: every windowed collector takes delay,
// overlap and lookback from its section, and refuses values out of range.
func TestWindowKeysOverrideTiming(t *testing.T) {
	for _, name := range []string{"fastly", "akamai", "cloudflare", "cloudfront", "gcore"} {
		f, ok := collectors.Lookup(name)
		if !ok {
			t.Fatalf("%s is not registered", name)
		}
		decode := func(doc string) collectors.Options {
			t.Helper()
			var raw map[string]toml.Primitive
			md, err := toml.Decode(doc, &raw)
			if err != nil {
				t.Fatal(err)
			}
			o, err := f.Decode(collectors.NewSection(name, &md, raw[name]))
			if err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			return o
		}
		o := decode("[" + name + "]\ndelay = \"17m\"\noverlap = \"3m\"\nlookback = \"7h\"\n")
		tm := f.Timing(o)
		if tm.Delay != 17*time.Minute || tm.Overlap != 3*time.Minute || tm.Lookback != 7*time.Hour {
			t.Errorf("%s: Timing = delay %v overlap %v lookback %v, want 17m 3m 7h", name, tm.Delay, tm.Overlap, tm.Lookback)
		}
		o = decode("[" + name + "]\ndelay = \"-1m\"\n")
		found := false
		for _, p := range o.Validate(collectors.Env{Getenv: func(string) string { return "" }}) {
			found = found || p.Key == name+".delay" && !p.Warning
		}
		if !found {
			t.Errorf("%s: a negative delay is not refused", name)
		}
	}
}
