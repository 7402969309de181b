package graphite

import (
	"fmt"

	"github.com/cdnmetrics/cdnmetrics/internal/schema"
)

// tagForms is how a sink writes provider metrics: dotted, tagged or both
// (schema.Tags*). The zero value writes the dotted path only.
type tagForms struct {
	prefix string
	mode   string
}

// WithTags makes the sink write every provider metric
// (<prefix>.<provider>.<service>.<location>.<metric>) also (mode
// schema.TagsBoth) or only (schema.TagsOnly) as a Graphite tagged series,
// "<prefix>.<metric>;provider=…;service=…;location=…" (schema.Tagged).
// Self-metrics, events and anomaly scores stay dotted. The sink's counters
// count lines, so with both forms a provider point counts twice. By
// default, schema.TagsOff: the dotted tree only.
func WithTags(prefix, mode string) Option {
	return func(o *options) { o.tags = tagForms{prefix: prefix, mode: mode} }
}

// check reports a mode a sink cannot use.
func (t tagForms) check() error {
	if t.mode != "" && !schema.ValidTagMode(t.mode) {
		return fmt.Errorf("graphite: tags %q: use %q, %q or %q", t.mode, schema.TagsOff, schema.TagsBoth, schema.TagsOnly)
	}
	return nil
}

// lines calls emit with each point p is written as: p itself, its tagged
// form, or both. A tagged form that cannot be a line (too long) is
// returned as the error instead, after the dotted form was emitted when
// the mode keeps it.
func (t tagForms) lines(p *schema.Point, emit func(*schema.Point)) error {
	if t.mode == "" || t.mode == schema.TagsOff {
		emit(p)
		return nil
	}
	name, ok := schema.Tagged(t.prefix, p.Path)
	if !ok {
		emit(p)
		return nil
	}
	if t.mode == schema.TagsBoth {
		emit(p)
	}
	tp := schema.Point{Path: name, Value: p.Value, Time: p.Time}
	if err := checkPoint(&tp); err != nil {
		return err
	}
	emit(&tp)
	return nil
}
