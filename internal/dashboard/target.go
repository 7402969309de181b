package dashboard

import (
	"fmt"
	"strings"
)

// Kind is the kind of a Node.
type Kind uint8

// The node kinds of a Graphite target expression.
const (
	Path   Kind = iota // a metric path: a.b.*.{c,d}.$var
	Call               // a function call: name(args...)
	String             // a quoted string, Value unquoted
	Number             // a number, Value as written
	Bool               // true/false (any case), or None
)

func (k Kind) String() string {
	return [...]string{"path", "call", "string", "number", "bool"}[k]
}

// Node is one parsed expression.
type Node struct {
	Kind  Kind
	Value string // path text, function name, unquoted string, number or bool
	Args  []Node // positional arguments of a Call
	Kw    []KwArg
	Pos   int // byte offset in the target
}

// KwArg is one keyword argument of a Call (name=value).
type KwArg struct {
	Name  string
	Value Node
}

// maxDepth bounds nesting, so hostile input cannot exhaust the stack.
const maxDepth = 100

// ParseTarget parses one Graphite target expression.
func ParseTarget(s string) (Node, error) {
	p := &parser{s: s}
	n, err := p.expr(0)
	if err != nil {
		return Node{}, err
	}
	p.space()
	if p.i < len(p.s) {
		return Node{}, p.errf("unexpected %q after the expression", p.s[p.i])
	}
	return n, nil
}

// Paths returns every metric path in n, in order.
func (n Node) Paths() []string {
	var out []string
	var walk func(Node)
	walk = func(n Node) {
		if n.Kind == Path {
			out = append(out, n.Value)
		}
		for _, a := range n.Args {
			walk(a)
		}
		for _, k := range n.Kw {
			walk(k.Value)
		}
	}
	walk(n)
	return out
}

type parser struct {
	s string
	i int
}

func (p *parser) errf(format string, a ...any) error {
	return fmt.Errorf("at byte %d: %s", p.i, fmt.Sprintf(format, a...))
}

func (p *parser) space() {
	for p.i < len(p.s) && (p.s[p.i] == ' ' || p.s[p.i] == '\t' || p.s[p.i] == '\n' || p.s[p.i] == '\r') {
		p.i++
	}
}

func (p *parser) expr(depth int) (Node, error) {
	if depth > maxDepth {
		return Node{}, p.errf("nested deeper than %d", maxDepth)
	}
	p.space()
	if p.i >= len(p.s) {
		return Node{}, p.errf("expression expected, found the end")
	}
	start := p.i
	switch c := p.s[p.i]; {
	case c == '\'' || c == '"':
		v, err := p.str()
		return Node{Kind: String, Value: v, Pos: start}, err
	case c == ',' || c == ')' || c == '(' || c == '=':
		return Node{}, p.errf("expression expected, found %q", c)
	}
	if n, ok := p.number(); ok {
		return n, nil
	}
	word, err := p.word()
	if err != nil {
		return Node{}, err
	}
	save := p.i
	p.space()
	if p.i < len(p.s) && p.s[p.i] == '(' {
		if !isIdent(word) {
			return Node{}, fmt.Errorf("at byte %d: %q is not a function name", start, word)
		}
		p.i++
		n := Node{Kind: Call, Value: word, Pos: start}
		if err := p.args(&n, depth); err != nil {
			return Node{}, err
		}
		return n, nil
	}
	p.i = save
	switch strings.ToLower(word) {
	case "true", "false", "none":
		return Node{Kind: Bool, Value: word, Pos: start}, nil
	}
	if err := checkPath(word); err != nil {
		return Node{}, fmt.Errorf("at byte %d: metric path %q: %w", start, word, err)
	}
	return Node{Kind: Path, Value: word, Pos: start}, nil
}

// args parses "a, b, k=v)" after the opening parenthesis.
func (p *parser) args(n *Node, depth int) error {
	p.space()
	if p.i < len(p.s) && p.s[p.i] == ')' {
		p.i++
		return nil
	}
	for {
		p.space()
		// Keyword argument: identifier '=' expression.
		kwStart := p.i
		if name, ok := p.kwName(); ok {
			v, err := p.expr(depth + 1)
			if err != nil {
				return err
			}
			n.Kw = append(n.Kw, KwArg{Name: name, Value: v})
		} else {
			p.i = kwStart
			if len(n.Kw) > 0 {
				return p.errf("positional argument after keyword argument")
			}
			a, err := p.expr(depth + 1)
			if err != nil {
				return err
			}
			n.Args = append(n.Args, a)
		}
		p.space()
		if p.i >= len(p.s) {
			return p.errf("missing ')' of %s(", n.Value)
		}
		switch p.s[p.i] {
		case ',':
			p.i++
		case ')':
			p.i++
			return nil
		default:
			return p.errf("expected ',' or ')' in %s(), found %q", n.Value, p.s[p.i])
		}
	}
}

// kwName consumes "name =" when it is there.
func (p *parser) kwName() (string, bool) {
	j := p.i
	for j < len(p.s) && (isLetter(p.s[j]) || (j > p.i && isDigit(p.s[j]))) {
		j++
	}
	if j == p.i {
		return "", false
	}
	name := p.s[p.i:j]
	k := j
	for k < len(p.s) && (p.s[k] == ' ' || p.s[k] == '\t') {
		k++
	}
	if k < len(p.s) && p.s[k] == '=' {
		p.i = k + 1
		return name, true
	}
	return "", false
}

func (p *parser) str() (string, error) {
	q := p.s[p.i]
	p.i++
	var b strings.Builder
	for p.i < len(p.s) {
		c := p.s[p.i]
		switch {
		case c == '\\' && p.i+1 < len(p.s):
			b.WriteByte(p.s[p.i+1])
			p.i += 2
		case c == q:
			p.i++
			return b.String(), nil
		default:
			b.WriteByte(c)
			p.i++
		}
	}
	return "", p.errf("unterminated string")
}

// number consumes a number when one ends at a delimiter; "1min.foo" is a
// path, not a number.
func (p *parser) number() (Node, bool) {
	j := p.i
	if j < len(p.s) && (p.s[j] == '-' || p.s[j] == '+') {
		j++
	}
	digits := 0
	for j < len(p.s) && isDigit(p.s[j]) {
		j++
		digits++
	}
	if j < len(p.s) && p.s[j] == '.' {
		j++
		for j < len(p.s) && isDigit(p.s[j]) {
			j++
			digits++
		}
	}
	if digits == 0 {
		return Node{}, false
	}
	if j < len(p.s) && (p.s[j] == 'e' || p.s[j] == 'E') {
		k := j + 1
		if k < len(p.s) && (p.s[k] == '-' || p.s[k] == '+') {
			k++
		}
		if k < len(p.s) && isDigit(p.s[k]) {
			for k < len(p.s) && isDigit(p.s[k]) {
				k++
			}
			j = k
		}
	}
	if j < len(p.s) && !isDelim(p.s[j]) {
		return Node{}, false
	}
	n := Node{Kind: Number, Value: p.s[p.i:j], Pos: p.i}
	p.i = j
	return n, true
}

// word consumes a path or a function name: everything up to a delimiter,
// with commas allowed inside {a,b} alternatives.
func (p *parser) word() (string, error) {
	start := p.i
	braces := 0
	for p.i < len(p.s) {
		c := p.s[p.i]
		if c == '{' {
			braces++
		} else if c == '}' {
			braces--
			if braces < 0 {
				return "", p.errf("unbalanced '}'")
			}
		} else if braces > 0 && c == ',' {
			// part of {a,b}
		} else if isDelim(c) || c == '=' || c == '\'' || c == '"' {
			break
		}
		p.i++
	}
	if braces != 0 {
		return "", p.errf("unbalanced '{'")
	}
	if p.i == start {
		return "", p.errf("unexpected %q", p.s[p.i])
	}
	return p.s[start:p.i], nil
}

// checkPath validates a metric path: no empty node, balanced brackets,
// template variables well formed.
func checkPath(s string) error {
	for _, node := range splitNodes(s) {
		if node == "" {
			return fmt.Errorf("empty node")
		}
	}
	depth := 0
	for i := 0; i < len(s); i++ {
		switch c := s[i]; c {
		case '[':
			depth++
		case ']':
			depth--
			if depth < 0 {
				return fmt.Errorf("unbalanced ']'")
			}
		case '$':
			j := i + 1
			if j < len(s) && s[j] == '{' {
				k := strings.IndexByte(s[j:], '}')
				if k < 2 || !isIdent(s[j+1:j+k]) {
					return fmt.Errorf("bad ${...} variable")
				}
				continue
			}
			if j >= len(s) || !isLetter(s[j]) {
				return fmt.Errorf("'$' not followed by a variable name")
			}
		default:
			if c < 0x21 || c == 0x7f {
				return fmt.Errorf("control character or space")
			}
		}
	}
	if depth != 0 {
		return fmt.Errorf("unbalanced '['")
	}
	return nil
}

// splitNodes splits a path on dots outside {...} and ${...}.
func splitNodes(s string) []string {
	var out []string
	depth, start := 0, 0
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '{':
			depth++
		case '}':
			depth--
		case '.':
			if depth == 0 {
				out = append(out, s[start:i])
				start = i + 1
			}
		}
	}
	return append(out, s[start:])
}

func isDelim(c byte) bool {
	return c == ',' || c == ')' || c == '(' || c == ' ' || c == '\t' || c == '\n' || c == '\r'
}

func isLetter(c byte) bool { return c == '_' || ('a' <= c && c <= 'z') || ('A' <= c && c <= 'Z') }
func isDigit(c byte) bool  { return '0' <= c && c <= '9' }

func isIdent(s string) bool {
	if s == "" || !isLetter(s[0]) {
		return false
	}
	for i := 1; i < len(s); i++ {
		if !isLetter(s[i]) && !isDigit(s[i]) {
			return false
		}
	}
	return true
}
