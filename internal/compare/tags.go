package compare

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"strings"

	"github.com/cdnmetrics/cdnmetrics/internal/schema"
)

// naming builds the series expressions compare and graph give graphite-web:
// globs over the dotted tree, or, when [graphite] tags = "only" (there is no
// dotted tree then), seriesByTag over the tagged series
// "<prefix>.<metric>;provider=…;service=…;location=…" (schema.TaggedPath).
type naming struct {
	prefix string
	tagged bool
}

func newNaming(prefix, tags string) naming {
	return naming{prefix: prefix, tagged: tags == schema.TagsOnly}
}

// series selects the metrics of the providers (none = every provider) at location ("*" = any) of
// service ("*" = every service). Names are plain path elements (checked by
// the callers), so they need no quoting inside a glob or a regex.
func (n naming) series(provs []string, service, location string, metrics []string) string {
	if !n.tagged {
		p := "*"
		if len(provs) > 0 {
			p = braces(provs)
		}
		return fmt.Sprintf("%s.%s.%s.%s.%s", n.prefix, p, service, location, braces(metrics))
	}
	exprs := []string{tagMatch("name", prefixRegex(n.prefix)+"[.]", metrics)}
	if len(provs) > 0 {
		exprs = append(exprs, tagMatch(schema.TagProvider, "", provs))
	}
	if service != "*" {
		exprs = append(exprs, tagMatch(schema.TagService, "", []string{service}))
	}
	if location != "*" {
		exprs = append(exprs, tagMatch(schema.TagLocation, "", []string{location}))
	}
	return "seriesByTag('" + strings.Join(exprs, "','") + "')"
}

// alias names each series of expr by the given levels, "provider",
// "service", "location" or "metric", joined with dots.
func (n naming) alias(expr string, levels ...string) string {
	if !n.tagged {
		depth := strings.Count(n.prefix, ".") + 1
		nodes := make([]string, len(levels))
		for i, l := range levels {
			nodes[i] = fmt.Sprint(depth + map[string]int{"provider": 0, "service": 1, "location": 2, "metric": 3}[l])
		}
		return fmt.Sprintf("aliasByNode(%s,%s)", expr, strings.Join(nodes, ","))
	}
	tags := make([]string, len(levels))
	for i, l := range levels {
		if l == "metric" {
			l = "name" // "<prefix>.<metric>": fixed up by unalias
		}
		tags[i] = "'" + l + "'"
	}
	return fmt.Sprintf("aliasByTags(%s,%s)", expr, strings.Join(tags, ","))
}

// unalias turns the targets alias made with a trailing "metric" level back
// into "….<metric>": aliasByTags gives the whole name tag,
// "<prefix>.<metric>", and the prefix may hold dots itself.
func (n naming) unalias(ss []Series) {
	if !n.tagged {
		return
	}
	for i := range ss {
		if j := strings.LastIndex(ss[i].Target, "."+n.prefix+"."); j >= 0 {
			ss[i].Target = ss[i].Target[:j] + "." + ss[i].Target[j+len(n.prefix)+2:]
		}
	}
}

// tagMatch is one seriesByTag expression: tag=value for one plain value,
// tag=~^prefix(a|b)$ otherwise.
func tagMatch(tag, rePrefix string, values []string) string {
	if rePrefix == "" && len(values) == 1 {
		return tag + "=" + values[0]
	}
	return tag + "=~^" + rePrefix + "(" + strings.Join(values, "|") + ")$"
}

// prefixRegex matches the prefix literally: its dots become [.] (a
// backslash would need escaping inside graphite's quoted strings).
func prefixRegex(prefix string) string { return strings.ReplaceAll(prefix, ".", "[.]") }

// tagValues lists the values of tag among the series matching exprs
// (graphite-web's /tags/autoComplete/values).
func (c *client) tagValues(ctx context.Context, tag string, exprs ...string) ([]string, error) {
	q := url.Values{"tag": {tag}, "expr": exprs, "limit": {"10000"}}
	body, ctype, err := c.get(ctx, "/tags/autoComplete/values", q)
	if err != nil {
		return nil, err
	}
	var vals []string
	if err := json.Unmarshal(bytes.TrimSpace(body), &vals); err != nil {
		return nil, fmt.Errorf("graphite-web /tags/autoComplete/values (%s): not a JSON list of strings: %q", ctype, snippet(body))
	}
	return vals, nil
}

// providerNames lists the first-level names under the prefix (dotted) or
// the provider tag values of the prefix's series (tagged).
func (n naming) providerNames(ctx context.Context, c *client) ([]string, error) {
	if n.tagged {
		return c.tagValues(ctx, schema.TagProvider, "name=~^"+prefixRegex(n.prefix)+"[.]")
	}
	return c.find(ctx, n.prefix+".*")
}

// HitRatioTarget is graph's default target: every provider's hit ratio at
// location all, one line per provider and service, named
// "<provider>.<service>", in the dotted tree or (tags = "only") by tag.
func HitRatioTarget(prefix, tags string) string {
	n := newNaming(prefix, tags)
	return n.alias(n.series(nil, "*", schema.LocationAll, []string{schema.HitRatio}), "provider", "service")
}
