package config

import (
	"context"
	"os"
	"strings"
	"testing"

	"github.com/cdnmetrics/cdnmetrics/collectors"
)

// testOpts is a minimal vendor section: the same shape every vendor uses.
type testOpts struct {
	APIURL   string `toml:"api_url"`
	TokenEnv string `toml:"token_env"`
	Sched    string `toml:"schedule"`
	Service  []struct {
		ID   string `toml:"id"`
		Name string `toml:"name"`
	} `toml:"service"`
}

func (o *testOpts) Validate(env collectors.Env) []collectors.Problem {
	if env.Getenv(o.TokenEnv) == "" {
		return []collectors.Problem{{Key: "testcdn.token_env", Message: "environment variable " + o.TokenEnv + " is not set"}}
	}
	return nil
}
func (o *testOpts) Schedule() string { return o.Sched }

type nopCollector struct{}

func (nopCollector) Collect(context.Context, collectors.Window, collectors.Emitter) error { return nil }

func init() {
	collectors.Register(collectors.Factory{
		Name: "testcdn",
		Decode: func(s collectors.Section) (collectors.Options, error) {
			o := &testOpts{Sched: "@every 1m", TokenEnv: "TESTCDN_TOKEN"}
			return o, s.Decode(o)
		},
		New: func(collectors.Options, collectors.Env) (collectors.Collector, error) { return nopCollector{}, nil },
	})
}

func env(kv ...string) func(string) string {
	m := map[string]string{}
	for i := 0; i+1 < len(kv); i += 2 {
		m[kv[i]] = kv[i+1]
	}
	return func(k string) string { return m[k] }
}

const good = `state_dir = "/tmp/x"
[graphite]
address = "127.0.0.1:2003"
prefix  = "cdn"
[testcdn]
api_url = "http://127.0.0.1:1"
token_env = "TESTCDN_TOKEN"
schedule = "*/5 * * * *"
[[testcdn.service]]
id = "abc"
name = "www"
`

func TestGoodConfigLoads(t *testing.T) {
	cfg, probs := Parse("good.toml", []byte(good), env("TESTCDN_TOKEN", "t"))
	if len(probs) != 0 {
		t.Fatalf("problems: %v", probs)
	}
	if cfg.StateDir != "/tmp/x" || cfg.Graphite.Prefix != "cdn" || len(cfg.Collectors) != 1 {
		t.Fatalf("cfg = %+v", cfg)
	}
	o := cfg.Collectors[0].Options.(*testOpts)
	if o.Schedule() != "*/5 * * * *" || o.Service[0].Name != "www" {
		t.Fatalf("options = %+v", o)
	}
	// Defaults survive for keys the file does not set.
	if cfg.Graphite.QueueSize != Default().Graphite.QueueSize {
		t.Fatalf("queue_size default lost: %d", cfg.Graphite.QueueSize)
	}
}

// The three mistakes the issue names: a typo'd key, a bad cron spec, a
// missing token variable. Each message names its key and line.
func TestValidateNamesEveryProblem(t *testing.T) {
	bad := strings.Replace(good, `prefix  = "cdn"`, `prefx  = "cdn"`, 1)
	bad = strings.Replace(bad, `schedule = "*/5 * * * *"`, `schedule = "every five minutes"`, 1)
	_, probs := Parse("bad.toml", []byte(bad), env())
	want := map[string]int{"graphite.prefx": 4, "testcdn.schedule": 8, "testcdn.token_env": 7}
	got := map[string]int{}
	for _, p := range probs {
		got[p.Key] = p.Line
		if !strings.HasPrefix(p.String(), "bad.toml:") {
			t.Errorf("problem does not name the file: %s", p)
		}
	}
	for k, line := range want {
		l, ok := got[k]
		if !ok {
			t.Errorf("no problem for %s in %v", k, probs)
		} else if l != line {
			t.Errorf("%s reported at line %d, want %d", k, l, line)
		}
	}
	if len(probs.Errors()) != 3 {
		t.Errorf("got %d errors, want 3: %v", len(probs.Errors()), probs)
	}
}

func TestUnknownSectionAndTypeErrors(t *testing.T) {
	_, probs := Parse("x.toml", []byte("[fastlyy]\napi_url = \"x\"\n"), env())
	if len(probs) != 1 || probs[0].Key != "fastlyy" || probs[0].Line != 1 || !strings.Contains(probs[0].Message, "unknown section") {
		t.Fatalf("probs = %v", probs)
	}
	_, probs = Parse("x.toml", []byte("[graphite]\nqueue_size = \"many\"\n"), env())
	if len(probs.Errors()) != 1 || probs[0].Key != "graphite.queue_size" || probs[0].Line != 2 {
		t.Fatalf("probs = %v", probs)
	}
	_, probs = Parse("x.toml", []byte("state_dir = \n"), env())
	if len(probs) != 1 || probs[0].Line != 1 {
		t.Fatalf("syntax error: %v", probs)
	}
}

func TestCoreValidation(t *testing.T) {
	cases := []struct {
		name, text, key string
	}{
		{"address", "[graphite]\naddress = \"nohostport\"\n", "graphite.address"},
		{"prefix", "[graphite]\nprefix = \"CDN stats\"\n", "graphite.prefix"},
		{"web url", "[graphite]\nweb_url = \"ftp://x\"\n", "graphite.web_url"},
		{"creds in url", "[events]\ngraphite_web_urls = [\"http://u:p@h\"]\n", "events.graphite_web_urls[0]"},
		{"hook without secret", "[hook]\nlisten = \"127.0.0.1:9105\"\n", "hook.secret_env"},
		{"duration", "max_catchup = \"soon\"\n", "max_catchup"},
		{"log level", "log_level = \"loud\"\n", "log_level"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, probs := Parse("x.toml", []byte(c.text), env())
			found := false
			for _, p := range probs {
				found = found || p.Key == c.key || strings.HasPrefix(p.Key, strings.SplitN(c.key, ".", 2)[0]) && c.key == "max_catchup"
			}
			if !found {
				t.Fatalf("no problem for %s: %v", c.key, probs)
			}
		})
	}
}

func TestShardAndFilters(t *testing.T) {
	cfg, probs := Parse("x.toml", []byte("shard = \"2/3\"\n[filters.testcdn]\nallow = [\"^www\"]\naggregate_only = true\n"), env())
	if len(probs) != 0 || cfg.Shard != "2/3" || !cfg.Filters["testcdn"].AggregateOnly {
		t.Fatalf("cfg=%+v probs=%v", cfg, probs)
	}
	_, probs = Parse("x.toml", []byte("shard = \"4/3\"\n[filters.nosuch]\nblock = [\"(\"]\n"), env())
	keys := map[string]bool{}
	for _, p := range probs {
		keys[p.Key] = true
	}
	if !keys["shard"] || !keys["filters.nosuch"] {
		t.Fatalf("probs = %v", probs)
	}
}

func TestInlineSecretRefusedAndWorldReadableWarned(t *testing.T) {
	dir := t.TempDir()
	path := dir + "/c.toml"
	text := strings.Replace(good, `token_env = "TESTCDN_TOKEN"`, `token_env = "TESTCDN_TOKEN"`+"\ntoken = \"abc123\"", 1)
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	_, probs := Load(path, env("TESTCDN_TOKEN", "t"))
	var refused, warned bool
	for _, p := range probs {
		if p.Key == "testcdn.token" && strings.Contains(p.Message, "inline secrets are not accepted") {
			refused = true
		}
		if p.Warning && strings.Contains(p.Message, "readable by others") {
			warned = true
		}
		if strings.Contains(p.String(), "abc123") {
			t.Fatalf("problem quotes the secret: %s", p)
		}
	}
	if !refused || !warned {
		t.Fatalf("refused=%v warned=%v: %v", refused, warned, probs)
	}
}

// A graphite-web URL that is refused is never quoted with its password
// (an unparsable one, or one with another scheme), nor its query.
func TestRefusedWebURLNeverQuotesItsPassword(t *testing.T) {
	for _, u := range []string{"ftp://user:s3cr3t@graphite.example", "http://user:s3cr3t@[::1", "graphite.example/?key=s3cr3t"} {
		text := "[graphite]\nweb_url = \"" + u + "\"\n[events]\ngraphite_web_urls = [\"" + u + "\"]\n"
		_, probs := Parse("x.toml", []byte(text), env())
		refused := 0
		for _, p := range probs {
			if strings.HasSuffix(p.Key, "web_url") || strings.Contains(p.Key, "graphite_web_urls") {
				refused++
			}
			if strings.Contains(p.String(), "s3cr3t") {
				t.Errorf("%s: problem quotes the secret: %s", u, p)
			}
		}
		if refused != 2 {
			t.Errorf("%s: %d refusals, want 2 (web_url, graphite_web_urls[0]): %v", u, refused, probs)
		}
	}
}
