package readme

import (
	"fmt"
	"regexp"
	"strings"
	"testing"
	"unicode"

	"github.com/BurntSushi/toml"
	"github.com/yuin/goldmark/ast"

	_ "github.com/cdnmetrics/cdnmetrics/collectors/all" // the vendor sections config.Parse knows
	"github.com/cdnmetrics/cdnmetrics/internal/config"
)

// TestReadmeRenders parses README.md as CommonMark and fails on the
// breakage that renders silently: a fence left open (it swallows every
// heading and table after it), and a config comment outside a fence
// (`# token_file = …` becomes a top-level heading).
func TestReadmeRenders(t *testing.T) {
	src := readRepoFile(t, "README.md")
	fs := fences(src)
	if len(fs) < 20 {
		t.Fatalf("found %d fenced blocks in README.md; expected the 20+ it has (parser not seeing them?)", len(fs))
	}
	for _, f := range fs {
		if !f.closed {
			t.Errorf("README.md:%d: ```%s fence is never closed: everything after it renders as code", f.line, f.lang)
		}
		// A closing fence cannot carry an info string, so a ```toml line
		// inside a block means the block began at a stray bare fence and
		// swallowed the prose up to here: the fences pair up wrongly.
		for i, l := range strings.Split(f.body, "\n") {
			if openingFence.MatchString(l) {
				t.Errorf("README.md:%d: %q inside a ```%s block opened at line %d: a fence above is unpaired", f.line+1+i, l, f.lang, f.line)
			}
		}
	}

	var titles []string
	_ = ast.Walk(parseMarkdown(src), func(n ast.Node, entering bool) (ast.WalkStatus, error) {
		h, ok := n.(*ast.Heading)
		if !entering || !ok {
			return ast.WalkContinue, nil
		}
		var txt strings.Builder
		for i := 0; i < h.Lines().Len(); i++ {
			seg := h.Lines().At(i)
			txt.Write(seg.Value(src))
		}
		line := lineOf(src, h.Lines().At(0).Start)
		if h.Level == 1 {
			titles = append(titles, fmt.Sprintf("%d: %s", line, txt.String()))
		}
		if keyLine.MatchString(txt.String()) || strings.HasPrefix(txt.String(), "[") {
			t.Errorf("README.md:%d: heading %q is a config line outside a ```toml fence", line, txt.String())
		}
		return ast.WalkContinue, nil
	})
	if len(titles) != 1 {
		t.Errorf("README.md has %d top-level headings, want exactly the title: %q", len(titles), titles)
	}
}

// TestReadmeTOMLBlocks decodes every ```toml block of README.md, as written
// and with its commented-out keys switched on, and checks that config.Parse
// knows every key in it: a snippet a user copies must be a config the
// program accepts.
func TestReadmeTOMLBlocks(t *testing.T) {
	src := readRepoFile(t, "README.md")
	n := 0
	for _, f := range fences(src) {
		if f.lang != "toml" {
			continue
		}
		n++
		checkTOML(t, "README.md", f.line, f.body)
	}
	if n < 10 {
		t.Fatalf("found %d ```toml blocks in README.md, expected at least 10", n)
	}
}

// TestConfigExampleDecodes does the same for config.toml.example, the file
// README tells users to copy.
func TestConfigExampleDecodes(t *testing.T) {
	checkTOML(t, "config.toml.example", 0, string(readRepoFile(t, "config.toml.example")))
}

var openingFence = regexp.MustCompile("^ {0,3}```+[ \t]*[A-Za-z]")

// checkTOML checks one TOML text of file whose first line is line base+1.
func checkTOML(t *testing.T, file string, base int, body string) {
	t.Helper()
	for _, variant := range []struct{ name, text string }{
		{"as written", body},
		{"with commented-out keys switched on", uncomment(body)},
	} {
		var v map[string]any
		if _, err := toml.Decode(variant.text, &v); err != nil {
			t.Errorf("%s:%d (%s): not TOML: %v", file, base+1, variant.name, err)
			continue
		}
		_, probs := config.Parse(file, []byte(variant.text), func(string) string { return "set" })
		for _, p := range probs {
			if strings.Contains(p.Message, "unknown") || strings.Contains(p.Message, "inline secrets") {
				t.Errorf("%s:%d (%s): %s: %s", file, base+p.Line, variant.name, p.Key, p.Message)
			}
		}
	}
}

// TestReadmeAnchors checks that every in-page link (`](#slug)`) names a
// heading, slugged the way GitHub does (lower case, punctuation dropped,
// spaces to hyphens).
func TestReadmeAnchors(t *testing.T) {
	src := readRepoFile(t, "README.md")
	slugs := map[string]bool{}
	_ = ast.Walk(parseMarkdown(src), func(n ast.Node, entering bool) (ast.WalkStatus, error) {
		h, ok := n.(*ast.Heading)
		if !entering || !ok {
			return ast.WalkContinue, nil
		}
		var txt strings.Builder
		for i := 0; i < h.Lines().Len(); i++ {
			seg := h.Lines().At(i)
			txt.Write(seg.Value(src))
		}
		slugs[githubSlug(txt.String())] = true
		return ast.WalkContinue, nil
	})
	links := regexp.MustCompile(`\]\(#([^)]+)\)`).FindAllStringSubmatchIndex(string(src), -1)
	if len(links) == 0 {
		t.Fatal("README.md has no in-page links; the walk-through links to Troubleshooting")
	}
	for _, m := range links {
		if slug := string(src[m[2]:m[3]]); !slugs[slug] {
			t.Errorf("README.md:%d: link to #%s, but no heading has that anchor", lineOf(src, m[0]), slug)
		}
	}
}

func githubSlug(heading string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(strings.TrimSpace(heading)) {
		switch {
		case r == ' ':
			b.WriteRune('-')
		case r == '-' || r == '_' || unicode.IsLetter(r) || unicode.IsDigit(r):
			b.WriteRune(r)
		}
	}
	return b.String()
}
