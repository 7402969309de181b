package originlog

import (
	"strings"
	"testing"
	"time"

	"github.com/BurntSushi/toml"

	"github.com/cdnmetrics/cdnmetrics/collectors"
)

const exampleTOML = `
[originlog]
service  = "www"
schedule = "@every 1m"
step     = "60s"
hold     = "15m"
providers = ["fastly", "akamai"]
[[originlog.file]]
path = "/var/log/nginx/cdn_access.log"
[[originlog.file]]
path = "/var/log/nginx/other.log"
pattern = '^(?P<time>\S+) (?P<provider>\S+) (?P<status>\d{3}) (?P<bytes>\d+)'
time_format = "unix"
[originlog.beacons]
pattern = 'GET /beacon\.gif\?source=(?P<source>[A-Za-z0-9_-]+)'
`

func decode(t *testing.T, text string) (*Options, toml.MetaData) {
	t.Helper()
	var top map[string]toml.Primitive
	md, err := toml.Decode(text, &top)
	if err != nil {
		t.Fatal(err)
	}
	f, ok := collectors.Lookup(Name)
	if !ok {
		t.Fatal("originlog not registered")
	}
	o, err := f.Decode(collectors.NewSection(Name, &md, top[Name]))
	if err != nil {
		t.Fatal(err)
	}
	return o.(*Options), md
}

func TestDecodeExample(t *testing.T) {
	o, md := decode(t, exampleTOML)
	if o.Service != "www" || o.Step != time.Minute || o.Hold != 15*time.Minute || len(o.Files) != 2 ||
		o.Files[1].TimeFormat != "unix" || o.Beacons.Pattern == "" || o.MaxProviders != 20 || o.StartAt != "beginning" {
		t.Fatalf("decoded %+v", o)
	}
	if u := md.Undecoded(); len(u) != 0 {
		t.Errorf("undecoded keys %v", u)
	}
	if ps := o.Validate(collectors.Env{StateDir: "/tmp"}); len(ps) != 0 {
		t.Errorf("problems %v", ps)
	}
	f, _ := collectors.Lookup(Name)
	if tm := f.Timing(o); tm.Step != time.Minute {
		t.Errorf("timing %+v", tm)
	}
	if _, err := f.New(o, collectors.Env{StateDir: t.TempDir()}); err != nil {
		t.Error(err)
	}
}

func TestValidateProblems(t *testing.T) {
	cases := []struct {
		name   string
		mutate func(*Options)
		key    string
	}{
		{"no service", func(o *Options) { o.Service = "" }, "originlog.service"},
		{"no files", func(o *Options) { o.Files = nil }, "originlog.file"},
		{"dup path", func(o *Options) { o.Files = append(o.Files, o.Files[0]) }, "originlog.file[1].path"},
		{"bad pattern", func(o *Options) { o.Files[0].Pattern = "(" }, "originlog.file[0].pattern"},
		{"pattern without groups", func(o *Options) { o.Files[0].Pattern = `^(?P<time>\S+)` }, "originlog.file[0].pattern"},
		{"beacon without source", func(o *Options) { o.Beacons.Pattern = `beacon` }, "originlog.beacons.pattern"},
		{"odd step", func(o *Options) { o.Step = 7 * time.Second }, "originlog.step"},
		{"hold below step", func(o *Options) { o.Hold = time.Second }, "originlog.hold"},
		{"start_at", func(o *Options) { o.StartAt = "middle" }, "originlog.start_at"},
		{"time layout", func(o *Options) { o.Files[0].TimeFormat = "15:04" }, "originlog.file[0].time_format"},
		{"provider case", func(o *Options) { o.Providers = []string{"Fastly"} }, "originlog.providers[0]"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			o := DefaultOptions()
			o.Service = "www"
			o.Files = []FileOptions{{Path: "/var/log/a.log"}}
			tc.mutate(o)
			ps := o.Validate(collectors.Env{StateDir: "/tmp"})
			found := false
			for _, p := range ps {
				found = found || (p.Key == tc.key && !p.Warning)
			}
			if !found {
				t.Errorf("no problem for %s in %v", tc.key, ps)
			}
		})
	}
	o := DefaultOptions()
	o.Service = "www"
	o.Files = []FileOptions{{Path: "/var/log/a.log"}}
	ps := o.Validate(collectors.Env{})
	if len(ps) != 1 || !ps[0].Warning || !strings.Contains(ps[0].Message, "state") {
		t.Errorf("missing state dir: %v", ps)
	}
}
