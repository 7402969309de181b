package config

import (
	"strings"
	"testing"
)

func TestRUMSection(t *testing.T) {
	cfg, probs := Parse("x.toml", []byte(""), env())
	r := cfg.RUM
	if len(probs) != 0 || r.Listen != "" || r.Path != "/rum" || r.MaxBodyBytes != 64<<10 || r.MaxEntries != 100 ||
		r.MaxBeaconsPerSecond != 50 || r.MaxPOPs != 300 || r.SampleRate != 1 || len(r.Services) != 1 || r.Services[0] != "www" {
		t.Fatalf("defaults: %+v, problems %v", r, probs)
	}
	good := "[rum]\nlisten = \"127.0.0.1:9108\"\nallowed_origins = [\"https://www.example.com\"]\nproviders = [\"fastly\", \"akamai\"]\n"
	cases := []struct {
		name, text string
		says       []string // one problem each, in order of the file
	}{
		{"good", good + "[rum.nel]\nhosts = { \"img.example.com\" = \"fastly\" }\n", nil},
		{"off: nothing else checked", "[rum]\nproviders = []\n", nil},
		{"no origins, no providers", "[rum]\nlisten = \"127.0.0.1:9108\"\n", []string{"rum.allowed_origins", "rum.providers"}},
		{"origin with a path", strings.Replace(good, "example.com\"]", "example.com/x\"]", 1), []string{"allowed_origins[0]"}},
		{"bad values", "[rum]\nlisten = \"127.0.0.1:9107\"\nallowed_origins = [\"https://a.example/\", \"*\"]\nproviders = [\"Fastly\", \"other\", \"cdnmetrics\"]\nservices = []\npath = \"/rum.js\"\nsample_rate = 0\nmax_body_bytes = 2000000\nmax_entries = 0\nmax_pops = 0\nmax_beacons_per_second = 0\n",
			[]string{"also admin.listen", "rum.path", "allowed_origins[0]", "allowed_origins[1]", "rum.max_body_bytes", "rum.max_entries", "rum.max_beacons_per_second", "rum.max_pops", "rum.sample_rate", "providers[0]", "providers[1]", "providers[2]", "rum.services"}},
		{"NEL host to a provider not allowed", good + "[rum.nel]\nhosts = { \"img.example.com\" = \"fastly\", \"Bad/Host\" = \"akamai\", \"x.example\" = \"cloudflare\" }\n", []string{"rum.nel.hosts", "rum.nel.hosts"}},
		{"unknown key", good + "max_body = 1\n", []string{"unknown key"}},
		// A browser serializes an origin in lower case and without its
		// scheme's default port: these would never match one, and every
		// beacon would be refused.
		{"origins no browser sends", strings.Replace(good, "\"https://www.example.com\"", "\"https://WWW.Example.com\", \"https://www.example.com:443\", \"http://www.example.com:80\", \"https://www.example.com:8443\"", 1),
			[]string{"allowed_origins[0]", "allowed_origins[1]", "allowed_origins[2]"}},
	}
	for _, c := range cases {
		_, probs := Parse("x.toml", []byte(c.text), env())
		errs := probs.Errors()
		if len(errs) != len(c.says) {
			t.Errorf("%s: %d errors, want %d: %v", c.name, len(errs), len(c.says), probs)
			continue
		}
		for _, s := range c.says {
			if !strings.Contains(errs.Error(), s) {
				t.Errorf("%s: %v does not say %q", c.name, errs, s)
			}
		}
	}
}
