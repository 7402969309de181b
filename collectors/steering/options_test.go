package steering_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cdnmetrics/cdnmetrics/collectors"
	"github.com/cdnmetrics/cdnmetrics/collectors/steering"
)

// validate refuses, before any network, what run would refuse.
func TestValidateRefuses(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "w.json")
	os.WriteFile(good, []byte(`{"fastly": 1}`), 0o644)
	badDoc := filepath.Join(dir, "bad.json")
	os.WriteFile(badDoc, []byte(`{"fastly": -1}`), 0o644)
	r53 := steering.Source{Service: "www", Kind: "route53", HostedZoneID: "Z123", RecordName: "www.example.com.", RecordType: "CNAME", Providers: map[string]string{"f": "fastly"}}
	for _, tc := range []struct {
		name string
		src  steering.Source
		want string
	}{
		{"missing file", steering.Source{Service: "www", Kind: "file", Path: filepath.Join(dir, "nope.json")}, "source[0].path"},
		{"bad document", steering.Source{Service: "www", Kind: "file", Path: badDoc}, "source[0].path"},
		{"no kind", steering.Source{Service: "www"}, "source[0].kind"},
		{"unknown kind", steering.Source{Service: "www", Kind: "consul"}, "source[0].kind"},
		{"no service", steering.Source{Kind: "file", Path: good}, "source[0].service"},
		{"http without url", steering.Source{Service: "www", Kind: "http"}, "source[0].url"},
		{"http token unset", steering.Source{Service: "www", Kind: "http", URL: "https://x.example/w", TokenEnv: "UNSET"}, "source[0].token_env"},
		{"bad zone", func() steering.Source { s := r53; s.HostedZoneID = "z 1"; return s }(), "source[0].hosted_zone_id"},
		{"bad type", func() steering.Source { s := r53; s.RecordType = "cname"; return s }(), "source[0].record_type"},
		{"no providers", func() steering.Source { s := r53; s.Providers = nil; return s }(), "source[0].providers"},
		{"namespace provider", func() steering.Source { s := r53; s.Providers = map[string]string{"x": "steering"}; return s }(), "source[0].providers"},
		{"secret without key id", func() steering.Source { s := r53; s.SecretKeyEnv = "X"; return s }(), "source[0].access_key_id"},
		{"route53 keys on a file", steering.Source{Service: "www", Kind: "file", Path: good, HostedZoneID: "Z1"}, "source[0]"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o := steering.DefaultOptions()
			o.Sources = []steering.Source{tc.src}
			ps := o.Validate(collectors.Env{Getenv: func(string) string { return "" }})
			found := false
			for _, p := range ps {
				if !p.Warning && strings.HasPrefix(p.Key, "steering."+tc.want) {
					found = true
				}
			}
			if !found {
				t.Errorf("no error on steering.%s: %v", tc.want, ps)
			}
		})
	}
	o := steering.DefaultOptions()
	o.Sources = []steering.Source{{Service: "www", Kind: "file", Path: good}, r53}
	o.Sources[1].Service = "api"
	if ps := o.Validate(collectors.Env{}); len(ps) != 0 {
		t.Errorf("good config refused: %v", ps)
	}
}
