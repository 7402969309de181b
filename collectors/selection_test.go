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

// SelectConfigured refuses a selection no configured service matches, and
// accepts any when services are discovered.
func TestSelectConfigured(t *testing.T) {
	ref := func(s string) ServiceRef { return ServiceRef{ID: "id-" + s, Name: s} }
	if only, err := SelectConfigured("vendorx", "zone", []string{"id-b"}, []string{"a", "b"}, ref); err != nil || !only.Has("id-b", "") || only.Has("id-a", "a") {
		t.Errorf("by id: %v, %v", only, err)
	}
	if only, err := SelectConfigured("vendorx", "zone", []string{"a"}, []string{"a", "b"}, ref); err != nil || !only.Has("", "a") {
		t.Errorf("by name: %v, %v", only, err)
	}
	if _, err := SelectConfigured("vendorx", "pull zone", []string{"x"}, []string{"a"}, ref); err == nil || err.Error() != "vendorx: no configured pull zone matches [x]" {
		t.Errorf("no match: err = %v", err)
	}
	if only, err := SelectConfigured("vendorx", "zone", []string{"x"}, nil, ref); err != nil || !only.Has("", "x") {
		t.Errorf("discovered: %v, %v; want x selected, matched when listed", only, err)
	}
	if only, err := SelectConfigured("vendorx", "zone", nil, []string{"a"}, ref); err != nil || only != nil {
		t.Errorf("no ids: %v, %v; want every service", only, err)
	}
}
