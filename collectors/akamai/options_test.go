package akamai

import (
	"strings"
	"testing"

	"github.com/cdnmetrics/cdnmetrics/collectors"
	"github.com/cdnmetrics/cdnmetrics/collectors/akamai/akamaisim"
)

// CP codes whose names give one Graphite path (case, dots and spaces fold
// to the same node; an unnamed CP code is named by its number) are a
// validate error naming each later one.
func TestValidateRefusesCPCodesSharingAPath(t *testing.T) {
	dir := t.TempDir()
	text, err := akamaisim.Config("http://127.0.0.1:1/akamai", dir)
	if err != nil {
		t.Fatal(err)
	}
	var wrap struct{ Akamai *Options }
	wrap.Akamai = defaults()
	if err := decode(text, &wrap); err != nil {
		t.Fatal(err)
	}
	o := wrap.Akamai
	o.CPCode = []CPCode{{ID: 1, Name: "www.prod"}, {ID: 2, Name: "WWW prod"}, {ID: 3}, {ID: 4, Name: "3"}, {ID: 5, Name: "api"}}
	var clash []string
	for _, p := range o.Validate(collectors.Env{}) {
		if !p.Warning && strings.Contains(p.Message, "same Graphite path") {
			clash = append(clash, p.Key)
		}
	}
	if strings.Join(clash, " ") != "akamai.cpcode[1].name akamai.cpcode[3].name" {
		t.Fatalf("clashes reported for %v, want cpcode[1] and cpcode[3]", clash)
	}
}

// api_url is checked like every vendor URL (collectors.CheckURL): no
// credentials, query or fragment, and a refused URL's password is never
// quoted back.
func TestValidateAPIURLLikeEveryVendorURL(t *testing.T) {
	dir := t.TempDir()
	text, err := akamaisim.Config("http://127.0.0.1:1/akamai", dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, u := range []string{"https://user:s3cr3t@akab.example/", "https://akab.example/?key=s3cr3t", "http://user:s3cr3t@[::1"} {
		var wrap struct{ Akamai *Options }
		wrap.Akamai = defaults()
		if err := decode(text, &wrap); err != nil {
			t.Fatal(err)
		}
		wrap.Akamai.APIURL = u
		var got []string
		for _, p := range wrap.Akamai.Validate(collectors.Env{}) {
			if p.Key == "akamai.api_url" && !p.Warning {
				got = append(got, p.Message)
			}
			if strings.Contains(p.String(), "s3cr3t") {
				t.Errorf("%s: problem quotes the secret: %s", u, p)
			}
		}
		if len(got) != 1 {
			t.Errorf("%s: api_url problems %q, want one refusal", u, got)
		}
	}
}
