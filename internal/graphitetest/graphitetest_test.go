package graphitetest

import (
	"fmt"
	"math"
	"net"
	"testing"
	"time"
)

func TestParseRender(t *testing.T) {
	body := []byte(`[{"target": "a", "tags": {"name": "a"}, "datapoints": [[1e9999, 10], [null, 20], [-1e9999, 30], [0.5, 40]]}, {"target": "b", "datapoints": []}]`)
	ss, err := ParseRender(body)
	if err != nil {
		t.Fatal(err)
	}
	if len(ss) != 2 || ss[0].Target != "a" || len(ss[0].Points) != 4 || len(ss[1].Points) != 0 {
		t.Fatalf("parsed %+v", ss)
	}
	p := ss[0].Points
	if !math.IsInf(*p[0].Value, 1) || p[1].Value != nil || !math.IsInf(*p[2].Value, -1) || *p[3].Value != 0.5 || p[3].Time != 40 {
		t.Fatalf("points %+v", p)
	}
	if _, err := ParseRender([]byte(`[{"target":"a","datapoints":[["x",1]]}]`)); err == nil {
		t.Fatal("bad value accepted")
	}
}

func TestValueAt(t *testing.T) {
	v := 3.0
	ss := []Series{{Points: []DataPoint{{Time: 100}, {Value: &v, Time: 110}, {Time: 120}}}}
	// 115 lies in the 10 s bucket starting at 110.
	if got := valueAt(ss, 115); got == nil || *got != 3 {
		t.Fatalf("valueAt(115) = %v", got)
	}
	if got := valueAt(ss, 125); got != nil {
		t.Fatalf("valueAt(125) = %v, want nil (null bucket)", *got)
	}
}

// TestRealGraphite writes through plaintext and reads back, then restarts
// carbon and does it again.
func TestRealGraphite(t *testing.T) {
	s := Start(t)
	ts := time.Now().Unix() - 60
	send := func(line string) {
		c, err := net.DialTimeout("tcp", s.CarbonAddr, 5*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		if _, err := fmt.Fprint(c, line); err != nil {
			t.Fatal(err)
		}
	}
	send(fmt.Sprintf("cdn.gt.svc.all.hit_ratio 0.93 %d\ncdn.gt.svc.all.requests 1e3 %d\n", ts, ts))
	s.WaitValue(t, "cdn.gt.svc.all.hit_ratio", ts, 0.93, 10*time.Second)
	s.RestartCarbon(t)
	send(fmt.Sprintf("cdn.gt.svc.all.requests 7 %d\n", ts+10))
	found, missing := s.WaitValues(t, map[string]map[int64]float64{
		"cdn.gt.svc.all.requests":  {ts: 1000, ts + 10: 7},
		"cdn.gt.svc.all.hit_ratio": {ts: 0.93},
	}, 10*time.Second)
	if found != 3 || missing != 0 {
		t.Fatalf("found %d, missing %d; want 3, 0", found, missing)
	}
}
