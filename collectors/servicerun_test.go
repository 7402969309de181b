package collectors

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/cdnmetrics/cdnmetrics/internal/schema"
)

// ServiceRun reads the services this instance collects, keeps going past
// one service's failure, stops at a refused batch, and says ErrNoData only
// when the vendor had nothing for any service read.
func TestServiceRun(t *testing.T) {
	var read []string
	values := map[string]int{"a": 2, "b": 0, "c": 1}
	fail := map[string]bool{}
	run := ServiceRun[string]{Provider: "vendorx", Kind: "zone",
		Name: func(s string) (ServiceRef, string) { return ServiceRef{ID: "id-" + s, Name: s}, "path-" + s },
		Collect: func(s string) (Batch, int, error) {
			read = append(read, s)
			var b Batch
			for range values[s] {
				b.Records = append(b.Records, schema.Record{Service: s})
			}
			if fail[s] {
				return b, values[s], errors.New("vendorx: zone " + s + ": down")
			}
			return b, values[s], nil
		},
	}
	var emitted []string
	var refuse bool
	e := EmitterFunc(func(_ context.Context, b Batch) error {
		if refuse {
			return errors.New("shutting down")
		}
		emitted = append(emitted, b.Records[0].Service)
		return nil
	})
	all := []string{"a", "b", "c"}
	env := Env{Include: func(id, name string) bool { return name != "c" }} // another shard has c

	if err := run.Run(context.Background(), env, nil, all, e); err != nil || strings.Join(read, ",") != "a,b" || strings.Join(emitted, ",") != "a" {
		t.Fatalf("err %v, read %v, emitted %v; want a and b read, a emitted (b had nothing)", err, read, emitted)
	}
	read, emitted = nil, nil
	if err := run.Run(context.Background(), Env{}, NewSelection([]string{"id-b"}), all, e); !errors.Is(err, ErrNoData) || strings.Join(read, ",") != "b" {
		t.Fatalf("only b (no values): err %v, read %v; want ErrNoData after reading b", err, read)
	}
	read, emitted, fail["a"] = nil, nil, true
	err := run.Run(context.Background(), Env{}, nil, all, e)
	if err == nil || err.Error() != "vendorx: zone a: down" || strings.Join(read, ",") != "a,b,c" || strings.Join(emitted, ",") != "a,c" {
		t.Fatalf("a fails: err %v, read %v, emitted %v; want a's error after reading and emitting the rest", err, read, emitted)
	}
	read, refuse = nil, true
	err = run.Run(context.Background(), Env{}, nil, all, e)
	if err == nil || !strings.Contains(err.Error(), "vendorx: emit zone path-a: shutting down") || strings.Join(read, ",") != "a" {
		t.Fatalf("refused batch: err %v, read %v; want a stop after a", err, read)
	}
	read = nil
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := run.Run(ctx, Env{}, nil, all, e); !errors.Is(err, context.Canceled) || len(read) != 0 {
		t.Fatalf("ended context: err %v, read %v; want context.Canceled before any read", err, read)
	}
}

type pathNamerFunc func(provider string, svcs []ServiceRef) []string

func (f pathNamerFunc) PathNames(provider string, svcs []ServiceRef) []string {
	return f(provider, svcs)
}

// ClaimPaths sets a path only on the services whose path name is not
// their label.
func TestClaimPaths(t *testing.T) {
	type svc struct{ id, label, path string }
	svcs := []svc{{"1", "www", ""}, {"2", "WWW", ""}}
	env := Env{Paths: pathNamerFunc(func(provider string, refs []ServiceRef) []string {
		if provider != "vendorx" || len(refs) != 2 || refs[1] != (ServiceRef{ID: "2", Name: "WWW"}) {
			t.Fatalf("PathNames(%q, %v)", provider, refs)
		}
		return []string{"www", "WWW_2"}
	})}
	ClaimPaths(env, "vendorx", svcs, func(s svc) ServiceRef { return ServiceRef{ID: s.id, Name: s.label} },
		func(s *svc, p string) { s.path = p })
	if svcs[0].path != "" || svcs[1].path != "WWW_2" {
		t.Fatalf("paths %q, %q; want \"\" and WWW_2", svcs[0].path, svcs[1].path)
	}
}
