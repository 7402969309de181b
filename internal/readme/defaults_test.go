package readme

import (
	"fmt"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/BurntSushi/toml"

	"github.com/cdnmetrics/cdnmetrics/collectors"
	"github.com/cdnmetrics/cdnmetrics/internal/config"
)

// exampleOnly lists the keys whose stated value is an example, not the
// default: the documentation may show them with any value. Every other key
// a document states, commented out or not, states its default and must
// equal the code's. An entry nothing uses fails the test, so the list
// cannot go stale.
var exampleOnly = map[string]string{
	"shard":                             "no default: every service",
	"events.username":                   "basic auth is off by default",
	"events.password_env":               "basic auth is off by default",
	"graphite.username":                 "basic auth is off by default",
	"graphite.password_env":             "basic auth is off by default",
	"run_timeout":                       "no single default: the schedule period in the daemon, 10m for collect",
	"fastly.token_file":                 "a path of the user's choosing",
	"akamai.api_url":                    "default: the host from .edgerc",
	"cloudflare.token_file":             "a path of the user's choosing",
	"cloudflare.account_id":             "an account id",
	"cloudfront.profile":                "an AWS profile name",
	"cloudfront.access_key_id":          "a key id",
	"cloudfront.secret_key_env":         "no default: the SDK's credential chain",
	"cloudfront.secret_key_file":        "a path of the user's choosing",
	"cloudfront.endpoint_url":           "default: the SDK's endpoint for region",
	"edgecast.token_file":               "a path of the user's choosing",
	"gcore.token_file":                  "a path of the user's choosing",
	"bunny.token_file":                  "a path of the user's choosing",
	"edgecast.oauth.token_url":          "README and the example show edgecast.DefaultTokenURL, checked in TestEdgecastTokenURL",
	"edgecast.oauth.client_id":          "an id",
	"edgecast.oauth.client_secret_env":  "a variable name of the user's choosing",
	"edgecast.oauth.client_secret_file": "a path of the user's choosing",
	"edgecast.oauth.scopes":             "the scopes the user's client has",
	"azure.client_secret_file":          "a path of the user's choosing",
	"azure.token_url":                   "default: built from tenant_id (azure.DefaultTokenURL); the docs show it with <tenant>",
	"originlog.providers":               "an optional allow-list",
	"skyline.pickle_address":            "off by default",
	"skyline.udp_address":               "off by default",
}

// effective maps a key whose decoded zero means "the default" to the value
// the code then uses.
var effective = map[string]func(section any) any{
	"request_timeout": func(o any) any {
		return o.(interface{ RequestDeadline() time.Duration }).RequestDeadline()
	},
}

// TestStatedDefaultsMatchCode decodes each documented section with its
// commented-out keys switched on and compares every key it states with the
// default the code decodes an empty section to (config.Default for the
// core sections, collectors.Lookup(name).Decode for a vendor's). A default
// changed in code but not in the docs, or the other way round, fails here.
func TestStatedDefaultsMatchCode(t *testing.T) {
	used := map[string]bool{}
	checked := 0
	type doc struct {
		file string
		base int // line of the file before the text's first line
		body string
	}
	docs := []doc{{"config.toml.example", 0, string(readRepoFile(t, "config.toml.example"))}}
	src := readRepoFile(t, "README.md")
	for _, f := range fences(src) {
		if f.lang == "toml" {
			docs = append(docs, doc{"README.md", f.line, f.body})
		}
	}
	for _, doc := range docs {
		n, err := checkDefaults(doc.file, doc.base, doc.body, used, t.Errorf)
		if err != nil {
			t.Errorf("%s:%d: %v", doc.file, doc.base, err)
		}
		checked += n
	}
	if checked < 60 {
		t.Errorf("compared %d stated defaults, expected at least 60 (is the key scanner still finding them?)", checked)
	}
	for k := range exampleOnly {
		if !used[k] {
			t.Errorf("exampleOnly[%q] is stated nowhere: remove it", k)
		}
	}
}

// checkDefaults compares the keys one TOML text states with the code's
// defaults, reporting each mismatch through errorf; it returns how many
// keys it compared.
func checkDefaults(file string, base int, body string, used map[string]bool, errorf func(string, ...any)) (int, error) {
	live := uncomment(body)
	var raw map[string]toml.Primitive
	md, err := toml.Decode(live, &raw)
	if err != nil {
		return 0, err
	}
	// The core sections decode straight into config.Config over its
	// defaults; vendor sections through their own Factory.Decode.
	coreDefault := config.Default()
	coreStated := config.Default()
	if _, err := toml.Decode(live, &coreStated); err != nil {
		return 0, fmt.Errorf("core sections: %v", err)
	}
	vendorDefault := map[string]any{}
	vendorStated := map[string]any{}
	for name, prim := range raw {
		f, ok := collectors.Lookup(name)
		if !ok {
			continue
		}
		d, err := f.Decode(collectors.Section{Name: name})
		if err != nil {
			return 0, fmt.Errorf("[%s] defaults: %v", name, err)
		}
		s, err := f.Decode(collectors.NewSection(name, &md, prim))
		if err != nil {
			return 0, err
		}
		vendorDefault[name], vendorStated[name] = d, s
	}

	n := 0
	for _, k := range statedKeys(body) {
		if k.arrayItem || strings.HasPrefix(k.table, "filters.") || strings.HasPrefix(k.table, "cost.") {
			continue // items of a list, per-provider filters and price plans have no defaults
		}
		full := k.key
		if k.table != "" {
			full = k.table + "." + k.key
		}
		if _, ok := exampleOnly[full]; ok {
			used[full] = true
			continue
		}
		path := strings.Split(full, ".")
		var def, stated reflect.Value
		var section any
		if d, ok := vendorDefault[path[0]]; ok {
			def, stated, section = fieldByTag(reflect.ValueOf(d), path[1:]), fieldByTag(reflect.ValueOf(vendorStated[path[0]]), path[1:]), vendorStated[path[0]]
		} else {
			def, stated = fieldByTag(reflect.ValueOf(coreDefault), path), fieldByTag(reflect.ValueOf(coreStated), path)
		}
		if !def.IsValid() || !stated.IsValid() {
			errorf("%s:%d: %s: no such option in the code", file, base+k.line, full)
			continue
		}
		n++
		if eff, ok := effective[k.key]; ok && section != nil {
			dv, _ := vendorDefault[path[0]], 0
			if a, b := eff(dv), eff(section); !reflect.DeepEqual(a, b) {
				errorf("%s:%d: %s states %v, but the code's default is %v", file, base+k.line, full, b, a)
			}
			continue
		}
		if reflect.DeepEqual(def.Interface(), stated.Interface()) {
			continue
		}
		if !k.commented && def.IsZero() {
			continue // a live setting of a key without a default: an example value
		}
		errorf("%s:%d: %s states %s, but the code's default is %s (fix the doc, or list the key in exampleOnly if it is an example)",
			file, base+k.line, full, show(stated), show(def))
	}
	return n, nil
}

// fieldByTag follows path through struct fields by their toml tags,
// through embedded structs and pointers (a nil pointer reads as its zero).
func fieldByTag(v reflect.Value, path []string) reflect.Value {
	for v.Kind() == reflect.Pointer || v.Kind() == reflect.Interface {
		if v.IsNil() {
			v = reflect.Zero(v.Type().Elem())
			continue
		}
		v = v.Elem()
	}
	if len(path) == 0 {
		return v
	}
	if v.Kind() != reflect.Struct {
		return reflect.Value{}
	}
	for i := 0; i < v.NumField(); i++ {
		sf := v.Type().Field(i)
		tag := strings.Split(sf.Tag.Get("toml"), ",")[0]
		if tag == path[0] {
			return fieldByTag(v.Field(i), path[1:])
		}
		if sf.Anonymous && tag == "" {
			if f := fieldByTag(v.Field(i), path); f.IsValid() {
				return f
			}
		}
	}
	return reflect.Value{}
}

// show formats a decoded option the way the docs write it.
func show(v reflect.Value) string {
	if v.Kind() == reflect.Int64 && v.Type().Name() != "int64" {
		return strconv.Quote(time.Duration(v.Int()).String()) // every named int64 option is a duration
	}
	return fmt.Sprintf("%#v", v.Interface())
}

// lagCell matches a documentation table's statement of a vendor's lag:
// "delay 5 min, overlap 15 min" or "5 min / 15 min".
var lagCell = regexp.MustCompile(`(?:delay (\d+) min, overlap (\d+) min)|(?:(\d+) min / (\d+) min)`)

// TestTimingTablesMatchCode checks the lag README's provider tables state
// against each vendor's Timing with default options (the delay and overlap
// keys' defaults, which the tables repeat).
func TestTimingTablesMatchCode(t *testing.T) {
	src := string(readRepoFile(t, "README.md"))
	checked := map[string]int{}
	for i, line := range strings.Split(src, "\n") {
		cells := strings.Split(line, "|")
		if len(cells) < 3 || strings.TrimSpace(cells[0]) != "" {
			continue
		}
		name := strings.TrimSpace(cells[1])
		f, ok := collectors.Lookup(name)
		if !ok || f.Timing == nil {
			continue
		}
		o, err := f.Decode(collectors.Section{Name: name})
		if err != nil {
			t.Fatal(err)
		}
		tm := f.Timing(o)
		for _, m := range lagCell.FindAllStringSubmatch(line, -1) {
			d, ov := m[1]+m[3], m[2]+m[4]
			want := fmt.Sprintf("%d / %d", int(tm.Delay.Minutes()), int(tm.Overlap.Minutes()))
			if got := d + " / " + ov; got != want {
				t.Errorf("README.md:%d: %s: table says delay / overlap %s min, the code's default is %s min", i+1, name, got, want)
			}
			checked[name]++
		}
		if strings.Contains(line, "| none: real-time only") && (tm.Delay != 0 || tm.Overlap != 0) {
			t.Errorf("README.md:%d: %s: table says no lag, the code waits %v and re-reads %v", i+1, name, tm.Delay, tm.Overlap)
		}
	}
	for _, name := range []string{"fastly", "akamai", "cloudflare", "cloudfront", "gcore"} {
		if checked[name] < 2 {
			t.Errorf("README.md states %s's delay / overlap in %d table rows, expected 2 (the overview and its own table)", name, checked[name])
		}
	}
}
