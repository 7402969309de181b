package shard

import (
	"fmt"
	"testing"
)

func TestEveryServiceOnExactlyOneShard(t *testing.T) {
	const n = 6
	counts := make([]int, n+1)
	for i := 0; i < 900; i++ {
		id := fmt.Sprintf("svc%05d", i)
		owners := 0
		for s := 1; s <= n; s++ {
			if (Spec{s, n}).Owns("fastly", id) {
				owners++
				counts[s]++
			}
		}
		if owners != 1 {
			t.Fatalf("%s owned by %d shards", id, owners)
		}
	}
	// 900 services over 6 shards: 150 each on average; a usable hash keeps
	// every shard within ±40 %.
	for s := 1; s <= n; s++ {
		if counts[s] < 90 || counts[s] > 210 {
			t.Errorf("shard %d has %d of 900 services", s, counts[s])
		}
	}
	if Of("fastly", "abc", 4) != Of("fastly", "abc", 4) || (Spec{1, 1}).Owns("x", "y") != true {
		t.Fatal("not stable")
	}
}

func TestParseSpec(t *testing.T) {
	for _, bad := range []string{"0/3", "4/3", "1/0", "a/b", "2"} {
		if _, err := ParseSpec(bad); err == nil {
			t.Errorf("ParseSpec(%q) accepted", bad)
		}
	}
	if s, err := ParseSpec("2/3"); err != nil || s != (Spec{2, 3}) {
		t.Errorf("ParseSpec(2/3) = %v %v", s, err)
	}
}

func TestFilter(t *testing.T) {
	f, err := Compile([]string{"^www", "^api"}, []string{"staging"})
	if err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string]bool{"www": true, "api-eu": true, "www-staging": false, "static": false} {
		if f.Match(name) != want {
			t.Errorf("Match(%q) = %v", name, !want)
		}
	}
	if _, err := Compile([]string{"("}, nil); err == nil {
		t.Error("bad regexp accepted")
	}
}
