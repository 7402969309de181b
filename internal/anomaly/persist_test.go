package anomaly

import (
	"bytes"
	"errors"
	"math"
	"reflect"
	"testing"
)

// A Set saved and loaded mid-stream goes on exactly as the one that never
// stopped: every later score is the same, bit for bit, and so is every
// detector's state.
func TestSaveLoadContinuesExactly(t *testing.T) {
	vals := noisy(3000, 9)
	for i := 2000; i < 2010; i++ {
		vals[i] += 50 // an anomaly after the restart
	}
	// Stuck stretches: one that sets the longest run, and one still going
	// on at the save, so the stuck-value state must survive it too.
	for i := 800; i < 812; i++ {
		vals[i] = vals[799]
	}
	for i := 1490; i < 1530; i++ {
		vals[i] = vals[1489]
	}
	paths := []string{"cdn.fastly.www.all.hit_ratio", "cdn.akamai.www.all.error_ratio"}
	a := NewSet(DefaultParams(), SetOptions{})
	feed := func(s *Set, from, to int) []float64 {
		var out []float64
		for i := from; i < to; i++ {
			for k, p := range paths {
				sc, _ := s.Observe(p, int64(i*300), vals[i]+float64(k))
				out = append(out, sc)
			}
		}
		return out
	}
	feed(a, 0, 1500)
	var buf bytes.Buffer
	if err := a.Save(&buf); err != nil {
		t.Fatal(err)
	}
	b := NewSet(DefaultParams(), SetOptions{})
	if err := b.Load(bytes.NewReader(buf.Bytes())); err != nil {
		t.Fatal(err)
	}
	if b.Len() != len(paths) {
		t.Fatalf("loaded %d series, want %d", b.Len(), len(paths))
	}
	for _, p := range paths {
		if !reflect.DeepEqual(*a.series[p].d, *b.series[p].d) || a.series[p].last != b.series[p].last {
			t.Fatalf("%s: loaded detector differs from the saved one", p)
		}
	}
	sa, sb := feed(a, 1500, 3000), feed(b, 1500, 3000)
	high := 0
	for i := range sa {
		if math.Float64bits(sa[i]) != math.Float64bits(sb[i]) {
			t.Fatalf("score %d after the reload: %v, without the reload %v", i, sb[i], sa[i])
		}
		if sa[i] >= DefaultThreshold {
			high++
		}
	}
	if high == 0 {
		t.Fatal("the anomaly after the reload was not scored high: the test checks nothing")
	}
	// A re-sent old point is still recognised after the reload.
	if _, fresh := b.Observe(paths[0], 100, 1); fresh {
		t.Fatal("an old point was taken as fresh after the reload")
	}
}

func TestLoadRefusesOtherParamsAndBadFiles(t *testing.T) {
	a := NewSet(DefaultParams(), SetOptions{})
	for i, v := range noisy(300, 1) {
		a.Observe("x", int64(i*60), v)
	}
	var buf bytes.Buffer
	if err := a.Save(&buf); err != nil {
		t.Fatal(err)
	}
	good := buf.Bytes()

	p := DefaultParams()
	p.Warmup++
	if err := NewSet(p, SetOptions{}).Load(bytes.NewReader(good)); !errors.Is(err, ErrStateMismatch) {
		t.Fatalf("other params: err = %v, want ErrStateMismatch", err)
	}
	for name, b := range map[string][]byte{
		"empty":     nil,
		"garbage":   []byte("hello world, not a state file at all"),
		"truncated": good[:len(good)-7],
		"too many":  append(append([]byte{}, good[:len(stateMagic)+8]...), 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f),
	} {
		s := NewSet(DefaultParams(), SetOptions{})
		s.Observe("kept", 1, 1)
		if err := s.Load(bytes.NewReader(b)); err == nil {
			t.Errorf("%s: loaded without error", name)
		}
		if s.Len() != 1 {
			t.Errorf("%s: a failed load changed the set (%d series)", name, s.Len())
		}
	}
}

// FuzzLoad: no input makes Load panic or allocate without bound. Seeds in
// testdata/fuzz/FuzzLoad.
func FuzzLoad(f *testing.F) {
	a := NewSet(DefaultParams(), SetOptions{})
	for i, v := range noisy(200, 2) {
		a.Observe("cdn.x.y.all.hit_ratio", int64(i*60), v)
	}
	var buf bytes.Buffer
	_ = a.Save(&buf)
	f.Add(buf.Bytes())
	f.Fuzz(func(t *testing.T, b []byte) {
		s := NewSet(DefaultParams(), SetOptions{MaxSeries: 1000})
		if s.Load(bytes.NewReader(b)) == nil {
			for p := range s.series {
				s.Observe(p, math.MaxInt64, 1)
			}
		}
	})
}
