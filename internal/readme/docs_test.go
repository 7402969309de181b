package readme

import (
	"bytes"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/yuin/goldmark"
	"github.com/yuin/goldmark/ast"
	"github.com/yuin/goldmark/extension"
	"github.com/yuin/goldmark/text"
)

// repoRoot is the directory holding go.mod, found upwards from the test's
// working directory (the package directory under `go test`).
func repoRoot(t *testing.T) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("no go.mod above the working directory")
		}
		dir = parent
	}
}

func readRepoFile(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(repoRoot(t), name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// parseMarkdown parses src as CommonMark with GitHub's table extension,
// the dialect README.md is read in.
func parseMarkdown(src []byte) ast.Node {
	md := goldmark.New(goldmark.WithExtensions(extension.GFM))
	return md.Parser().Parse(text.NewReader(src))
}

// fence is one fenced code block as the CommonMark parser saw it.
type fence struct {
	lang   string
	body   string
	line   int  // 1-based line of the opening fence
	closed bool // a closing fence follows the content
}

// lineOf returns the 1-based line of byte offset off in src.
func lineOf(src []byte, off int) int { return bytes.Count(src[:off], []byte("\n")) + 1 }

// lineAt returns the text of the 1-based line n of src ("" past the end)
// and whether it exists.
func lineAt(src []byte, n int) (string, bool) {
	lines := strings.Split(string(src), "\n")
	if n < 1 || n > len(lines) {
		return "", false
	}
	return lines[n-1], true
}

var closingFence = regexp.MustCompile("^ {0,3}(`{3,}|~{3,})[ \t]*$")

// fences returns every fenced code block of the markdown document src.
// A block is closed when the line after its content (or after its opening
// fence, when it has none) is a closing fence: CommonMark lets an unclosed
// fence run to the end of its container, swallowing the headings and tables
// after it, and reports no error.
func fences(src []byte) []fence {
	var out []fence
	_ = ast.Walk(parseMarkdown(src), func(n ast.Node, entering bool) (ast.WalkStatus, error) {
		fb, ok := n.(*ast.FencedCodeBlock)
		if !entering || !ok {
			return ast.WalkContinue, nil
		}
		f := fence{lang: string(fb.Language(src))}
		var b strings.Builder
		lines := fb.Lines()
		for i := 0; i < lines.Len(); i++ {
			seg := lines.At(i)
			b.Write(seg.Value(src))
		}
		f.body = b.String()
		var lastLine int
		switch {
		case lines.Len() > 0:
			lastLine = lineOf(src, lines.At(lines.Len()-1).Start)
			f.line = lineOf(src, lines.At(0).Start) - 1
		case fb.Info != nil:
			lastLine = lineOf(src, fb.Info.Segment.Start)
			f.line = lastLine
		default:
			// An empty block without an info string: nothing to locate
			// it by; count it as closed rather than guess.
			f.closed = true
			out = append(out, f)
			return ast.WalkContinue, nil
		}
		next, ok := lineAt(src, lastLine+1)
		f.closed = ok && closingFence.MatchString(next)
		out = append(out, f)
		return ast.WalkContinue, nil
	})
	return out
}

var (
	// commentedKey is a commented-out `key = value` line: it states the
	// key's default (or, where listed in exampleOnly, an example value).
	commentedKey = regexp.MustCompile(`^#[ \t]*([A-Za-z_][A-Za-z0-9_]*[ \t]*=.*)$`)
	// commentedTable is a commented-out table header such as
	// `# [edgecast.oauth]`.
	commentedTable = regexp.MustCompile(`^#[ \t]*(\[\[?[A-Za-z0-9_.]+\]\]?)[ \t]*(#.*)?$`)
	tableHeader    = regexp.MustCompile(`^[ \t]*(\[\[?)[ \t]*([A-Za-z0-9_.]+)[ \t]*\]\]?`)
	keyLine        = regexp.MustCompile(`^[ \t]*([A-Za-z_][A-Za-z0-9_]*)[ \t]*=`)
)

// uncomment turns every commented-out key line and table header of a TOML
// text into a live one, so that the defaults it states can be decoded.
// Prose comments stay comments.
func uncomment(src string) string {
	lines := strings.Split(src, "\n")
	for i, l := range lines {
		if m := commentedKey.FindStringSubmatch(l); m != nil {
			lines[i] = m[1]
		} else if m := commentedTable.FindStringSubmatch(l); m != nil {
			lines[i] = m[1]
		}
	}
	return strings.Join(lines, "\n")
}

// statedKey is one `key = value` line of a TOML text.
type statedKey struct {
	table     string // "" for the top level, "fastly", "edgecast.oauth", …
	arrayItem bool   // inside a [[table]]: an item of a list, which has no defaults
	key       string
	line      int  // 1-based, within the text
	commented bool // written as `# key = value`
}

// statedKeys lists the key lines of a TOML text, live and commented out,
// with the table each belongs to.
func statedKeys(src string) []statedKey {
	var out []statedKey
	table, array := "", false
	for i, l := range strings.Split(src, "\n") {
		commented := false
		if m := commentedKey.FindStringSubmatch(l); m != nil {
			l, commented = m[1], true
		} else if m := commentedTable.FindStringSubmatch(l); m != nil {
			l = m[1]
		}
		if m := tableHeader.FindStringSubmatch(l); m != nil {
			table, array = m[2], m[1] == "[["
			continue
		}
		if m := keyLine.FindStringSubmatch(l); m != nil {
			out = append(out, statedKey{table: table, arrayItem: array, key: m[1], line: i + 1, commented: commented})
		}
	}
	return out
}
