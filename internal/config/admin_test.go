package config

import (
	"strings"
	"testing"
)

func TestAdminListen(t *testing.T) {
	cfg, probs := Parse("x.toml", []byte(""), env())
	if len(probs) != 0 || cfg.Admin.Listen != "127.0.0.1:9107" {
		t.Fatalf("default: listen %q, problems %v", cfg.Admin.Listen, probs)
	}
	hook := "[hook]\nlisten = \"127.0.0.1:9200\"\nsecret_env = \"HOOK_SECRET\"\n"
	cases := []struct {
		name, text  string
		errs, warns int
		says        string
	}{
		{"disabled", "[admin]\nlisten = \"\"\n", 0, 0, ""},
		{"loopback v6", "[admin]\nlisten = \"[::1]:9107\"\n", 0, 0, ""},
		{"localhost", "[admin]\nlisten = \"localhost:9107\"\n", 0, 0, ""},
		{"every interface", "[admin]\nlisten = \":9107\"\n", 0, 1, "not a loopback address"},
		{"private address", "[admin]\nlisten = \"10.1.2.3:9107\"\n", 0, 1, "not a loopback address"},
		{"port out of range", "[admin]\nlisten = \"127.0.0.1:99999\"\n", 1, 0, "not a number in 1-65535"},
		{"no port", "[admin]\nlisten = \"127.0.0.1\"\n", 1, 0, "is not host:port"},
		{"the hook's address", hook + "[admin]\nlisten = \"127.0.0.1:9200\"\n", 1, 0, "also hook.listen"},
		{"the hook's port on every interface", hook + "[admin]\nlisten = \"0.0.0.0:9200\"\n", 1, 1, "also hook.listen"},
		{"beside the hook", hook + "[admin]\nlisten = \"127.0.0.1:9201\"\n", 0, 0, ""},
		{"unknown key", "[admin]\nlisen = \"127.0.0.1:1\"\n", 1, 0, "unknown key"},
	}
	for _, c := range cases {
		_, probs := Parse("x.toml", []byte(c.text), env("HOOK_SECRET", "s"))
		errs, warns := probs.Errors(), probs.Warnings()
		if len(errs) != c.errs || len(warns) != c.warns {
			t.Errorf("%s: %d errors %d warnings, want %d and %d: %v", c.name, len(errs), len(warns), c.errs, c.warns, probs)
			continue
		}
		if c.says != "" && !strings.Contains(probs.Error(), c.says) {
			t.Errorf("%s: %v does not say %q", c.name, probs, c.says)
		}
		for _, p := range probs {
			if !strings.HasPrefix(p.Key, "admin.") {
				t.Errorf("%s: problem on %q, want admin.*", c.name, p.Key)
			}
		}
	}
}
