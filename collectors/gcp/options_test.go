package gcp

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/cdnmetrics/cdnmetrics/collectors"
)

func TestValidateNamesEveryKey(t *testing.T) {
	o := defaultOptions()
	o.Project = "My Project"
	o.APIURL = "ftp://monitoring"
	o.Lookback = collectors.Duration(50 * 24 * time.Hour)
	o.Backends = []Backend{{ID: "web-map", Name: "www"}, {ID: "web-map"}, {ID: ""}, {ID: "b c"}, {ID: "x-map", Name: "WWW"}}
	ps := o.Validate(collectors.Env{Getenv: func(string) string { return "" }})
	got := fmt.Sprint(ps)
	for _, want := range []string{
		"gcp.project: \"My Project\" is not a project id",
		"gcp.api_url:",
		"gcp.lookback: 1200h0m0s: must be positive and at most 1008h0m0s",
		"gcp.backend[1].id: duplicate url map \"web-map\"",
		"gcp.backend[2].id: url map name is empty",
		"gcp.backend[3].id: url map name \"b c\" contains spaces",
		"gcp.backend[4].name: name \"WWW\" gives the same Graphite path",
		"gcp.credentials_file: not set",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("problems lack %q:\n%s", want, strings.ReplaceAll(got, "gcp.", "\n gcp."))
		}
	}
	o = defaultOptions()
	if ps := fmt.Sprint(o.Validate(collectors.Env{Getenv: func(string) string { return "" }})); !strings.Contains(ps, "gcp.project: set the project id") {
		t.Errorf("empty project: %s", ps)
	}
	// The legacy domain-scoped form is a project id too.
	o.Project = "example.com:my-project"
	for _, p := range o.Validate(collectors.Env{Getenv: func(string) string { return "" }}) {
		if p.Key == "gcp.project" {
			t.Errorf("domain-scoped project refused: %v", p)
		}
	}
}
