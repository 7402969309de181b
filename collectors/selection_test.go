package collectors

import "testing"

func TestSelection(t *testing.T) {
	var all Selection
	if !all.Has("any", "thing") || NewSelection(nil) != nil {
		t.Fatal("the nil Selection must keep every service")
	}
	s := NewSelection([]string{"E1ABC", "www"})
	for _, tc := range []struct {
		id, name string
		want     bool
	}{{"E1ABC", "static", true}, {"E2XYZ", "www", true}, {"E2XYZ", "api", false}} {
		if got := s.Has(tc.id, tc.name); got != tc.want {
			t.Errorf("Has(%q, %q) = %v, want %v", tc.id, tc.name, got, tc.want)
		}
	}
}
