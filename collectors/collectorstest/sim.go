// Package collectorstest helps collector tests run a collector against its
// own stand-in the way the simulator and the program do.
package collectorstest

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"

	"github.com/BurntSushi/toml"

	"github.com/cdnmetrics/cdnmetrics/collectors"
	"github.com/cdnmetrics/cdnmetrics/internal/simulate"
)

// SimOptions mounts provider's stand-in under /<provider> on a loopback
// test server (as the simulator does), decodes the section its simulator's
// Config writes through the registered factory, checks that every key was
// known and that the options validate with env, and returns them with the
// factory. The provider's package and its simulation package must be
// imported (both register themselves).
func SimOptions(t testing.TB, provider string, sim simulate.Env, env collectors.Env) (collectors.Options, collectors.Factory) {
	t.Helper()
	factory, ok := collectors.Lookup(provider)
	stand, standOK := simulate.Lookup(provider)
	if !ok || !standOK || stand.Serve == nil || stand.Config == nil {
		t.Fatalf("%s is not registered with a stand-in", provider)
	}
	mux := http.NewServeMux()
	stand.Serve(mux, sim)
	root := http.NewServeMux()
	root.Handle("/"+provider+"/", http.StripPrefix("/"+provider, mux))
	srv := httptest.NewServer(root)
	t.Cleanup(srv.Close)
	section, err := stand.Config(srv.URL+"/"+provider, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	var raw map[string]toml.Primitive
	md, err := toml.Decode(section, &raw)
	if err != nil {
		t.Fatalf("simulator config section does not parse: %v\n%s", err, section)
	}
	opts, err := factory.Decode(collectors.NewSection(provider, &md, raw[provider]))
	if err != nil {
		t.Fatal(err)
	}
	if und := md.Undecoded(); len(und) > 0 {
		t.Fatalf("undecoded keys %v", und)
	}
	if ps := opts.Validate(env); len(ps) > 0 {
		t.Fatalf("simulator config section invalid: %v", ps)
	}
	return opts, factory
}

// SimEnv returns the environment a collector configured by a simulator's
// Config needs: SimSecretEnv holds secret, nothing else is set.
func SimEnv(secret string) func(string) string {
	return func(k string) string {
		if k == collectors.SimSecretEnv {
			return secret
		}
		return ""
	}
}

// SyncBuffer is a log sink safe for concurrent writers (a collector's
// goroutines and the test reading it).
type SyncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *SyncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

// String returns everything written so far.
func (s *SyncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
