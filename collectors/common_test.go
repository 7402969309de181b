package collectors

import (
	"strings"
	"testing"
	"time"

	"github.com/BurntSushi/toml"
)

type commonOpts struct {
	Cron string `toml:"schedule"`
	Common
}

func (o *commonOpts) Validate(Env) []Problem { return o.CommonProblems("vendor") }
func (o *commonOpts) Schedule() string       { return o.Cron }

// request_timeout decodes into any options that embed Common, defaults to
// 60 s, and is refused outside 1 s … 30 m.
func TestCommonRequestTimeout(t *testing.T) {
	for _, tc := range []struct {
		text    string
		want    time.Duration
		problem bool
	}{
		{"", 60 * time.Second, false},
		{`request_timeout = "90s"`, 90 * time.Second, false},
		{`request_timeout = "1s"`, time.Second, false},
		{`request_timeout = "500ms"`, 0, true},
		{`request_timeout = "-5s"`, 0, true},
		{`request_timeout = "0s"`, 0, true}, // not a silent "use the default"
		{`request_timeout = "31m"`, 0, true},
	} {
		var raw map[string]toml.Primitive
		md, err := toml.Decode("[vendor]\n"+tc.text+"\n", &raw)
		if err != nil {
			t.Fatal(err)
		}
		o, err := Decoder(func() *commonOpts { return &commonOpts{} })(NewSection("vendor", &md, raw["vendor"]))
		if err != nil {
			t.Fatalf("%q: %v", tc.text, err)
		}
		if u := md.Undecoded(); len(u) > 0 {
			t.Fatalf("%q: undecoded keys %v", tc.text, u)
		}
		ps := o.Validate(Env{})
		if tc.problem {
			if len(ps) != 1 || ps[0].Key != "vendor.request_timeout" || !strings.Contains(ps[0].Message, "between 1s and 30m0s") {
				t.Errorf("%q: problems %v, want one on vendor.request_timeout", tc.text, ps)
			}
			continue
		}
		if len(ps) > 0 {
			t.Errorf("%q: problems %v", tc.text, ps)
		}
		if got := o.(*commonOpts).RequestDeadline(); got != tc.want {
			t.Errorf("%q: RequestDeadline() = %v, want %v", tc.text, got, tc.want)
		}
	}
}
