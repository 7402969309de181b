package state

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/cdnmetrics/cdnmetrics/internal/schema"
)

func assign(t *testing.T, p *Paths, ids, names []string) ([]string, []Clash) {
	t.Helper()
	got, clashes, err := p.Assign("fastly", ids, names)
	if err != nil {
		t.Fatal(err)
	}
	return got, clashes
}

// Within one listing the lowest id keeps the plain name whatever the
// order; the others get their id appended.
func TestPathsAssignIsOrderIndependent(t *testing.T) {
	for _, order := range [][]int{{0, 1, 2}, {2, 1, 0}, {1, 2, 0}} {
		ids := []string{"a1", "b2", "c3"}
		names := []string{"www.prod", "www prod", "WWW_PROD"}
		var oi, on []string
		for _, i := range order {
			oi, on = append(oi, ids[i]), append(on, names[i])
		}
		p, _ := OpenPaths("", false, schema.Sanitize)
		got, clashes := assign(t, p, oi, on)
		want := map[string]string{"a1": "www.prod", "b2": "www prod_b2", "c3": "WWW_PROD_c3"}
		for i, id := range oi {
			if got[i] != want[id] {
				t.Errorf("order %v: %s named %q, want %q", order, id, got[i], want[id])
			}
		}
		if len(clashes) != 2 || clashes[0].Owner != "a1" || clashes[0].Path != "www_prod_b2" {
			t.Errorf("order %v: clashes %+v", order, clashes)
		}
	}
}

// The first owner keeps its path across a restart when a colliding service
// appears later, even one whose id sorts first; a service literally named
// like a suffixed path does not take it over either.
func TestPathsOwnerKeepsItsPathAcrossRestart(t *testing.T) {
	dir := t.TempDir()
	p, err := OpenPaths(dir, false, schema.Sanitize)
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := assign(t, p, []string{"b2"}, []string{"www"}); got[0] != "www" {
		t.Fatalf("alone: %q", got[0])
	}
	p, err = OpenPaths(dir, false, schema.Sanitize) // restart
	if err != nil {
		t.Fatal(err)
	}
	got, clashes := assign(t, p, []string{"a1", "b2"}, []string{"WWW", "www"})
	if !slices.Equal(got, []string{"WWW_a1", "www"}) || len(clashes) != 1 || clashes[0].ID != "a1" {
		t.Fatalf("after restart: %q %+v", got, clashes)
	}
	got, _ = assign(t, p, []string{"c0", "a1", "b2"}, []string{"www_a1", "WWW", "www"})
	if !slices.Equal(got, []string{"www_a1_c0", "WWW_a1", "www"}) {
		t.Fatalf("with a service named www_a1: %q", got)
	}
	// A dry run reads the owners and never writes.
	before, _ := os.ReadFile(filepath.Join(dir, "paths.json"))
	ro, err := OpenPaths(dir, true, schema.Sanitize)
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := assign(t, ro, []string{"a1", "d4"}, []string{"WWW", "new"}); !slices.Equal(got, []string{"WWW_a1", "new"}) {
		t.Fatalf("read-only: %q", got)
	}
	if after, _ := os.ReadFile(filepath.Join(dir, "paths.json")); string(after) != string(before) {
		t.Fatal("a read-only Paths wrote the file")
	}
}

func TestCorruptPathsFileIsSetAsideNotFatal(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "paths.json")
	if err := os.WriteFile(file, []byte(`{"owners":{"fastly":`), 0o600); err != nil {
		t.Fatal(err)
	}
	p, err := OpenPaths(dir, false, schema.Sanitize)
	if err != nil {
		t.Fatalf("a corrupt paths.json stopped the run: %v", err)
	}
	if !strings.Contains(p.Corrupt, "paths.json") || !strings.HasPrefix(p.SetAside, file+".corrupt-") {
		t.Fatalf("Corrupt = %q, SetAside = %q", p.Corrupt, p.SetAside)
	}
	if _, err := os.Stat(p.SetAside); err != nil {
		t.Fatalf("set-aside file: %v", err)
	}
	// The owners start empty and are decided again by the lowest-id rule.
	got, _, err := p.Assign("fastly", []string{"b2", "a1"}, []string{"www", "www"})
	if err != nil || got[0] != "www_b2" || got[1] != "www" {
		t.Fatalf("Assign = %v, %v; want [www_b2 www]", got, err)
	}
	// A read-only open (dry run) never renames.
	if err := os.WriteFile(file, []byte(`{`), 0o600); err != nil {
		t.Fatal(err)
	}
	if p, err := OpenPaths(dir, true, schema.Sanitize); err != nil || p.SetAside != "" || p.Corrupt == "" {
		t.Fatalf("read-only: %+v %v", p, err)
	}
	if _, err := os.Stat(file); err != nil {
		t.Fatalf("read-only open moved the file: %v", err)
	}
}

// FuzzOpenPaths: whatever paths.json holds, opening it either fails with
// an error naming the file or gives owners under which distinct services
// always get distinct path nodes.
func FuzzOpenPaths(f *testing.F) {
	f.Add([]byte(`{"owners":{"fastly":{"www":"b2","www_a1":"a1"}}}`), "a1,b2,c3", "www,WWW,www_a1")
	f.Add([]byte(`{"owners":{"fastly":null,"akamai":{"1":"1"}}}`), "x,y", "x,x")
	f.Add([]byte(`{"owners":{"fastly":{"www":""}}}`), "a,", "www,www")
	f.Add([]byte(`[]`), "a", "b")
	f.Fuzz(func(t *testing.T, data []byte, idList, nameList string) {
		dir := t.TempDir()
		file := filepath.Join(dir, "paths.json")
		if err := os.WriteFile(file, data, 0o600); err != nil {
			t.Fatal(err)
		}
		p, err := OpenPaths(dir, false, schema.Sanitize)
		if err != nil {
			if !strings.Contains(err.Error(), file) {
				t.Fatalf("error %v does not name %s", err, file)
			}
			return
		}
		ids, names := strings.Split(idList, ","), strings.Split(nameList, ",")
		if len(ids) > 20 || len(names) < len(ids) {
			return
		}
		names = names[:len(ids)]
		seen := map[string]bool{}
		for _, id := range ids {
			if seen[id] {
				return // a vendor's ids are unique
			}
			seen[id] = true
		}
		got, _, err := p.Assign("fastly", ids, names)
		if err != nil {
			t.Fatal(err)
		}
		node := map[string]string{}
		for i, n := range got {
			s := schema.Sanitize(n)
			if other, dup := node[s]; dup {
				t.Fatalf("%s and %s both named %s", other, ids[i], s)
			}
			node[s] = ids[i]
		}
		// What was saved reads back and gives the same answer.
		q, err := OpenPaths(dir, true, schema.Sanitize)
		if err != nil {
			t.Fatal(err)
		}
		again, _, _ := q.Assign("fastly", ids, names)
		if !slices.Equal(again, got) {
			t.Fatalf("after reopening: %q, want %q", again, got)
		}
	})
}
