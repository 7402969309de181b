package redact

import (
	"encoding/base64"
	"strings"
	"testing"
)

// FuzzString: whatever surrounds it, a registered secret (and its base64)
// never survives String, and String never panics.
func FuzzString(f *testing.F) {
	const sec = "fuzz-Secret-0123456789"
	AddSecret(sec)
	b64 := base64.StdEncoding.EncodeToString([]byte(sec))
	for _, s := range []string{"", "Authorization: Basic ", "map[Cookie:[", "https://u:", "password=", `{"token": "`, "\x00\xff"} {
		f.Add(s, s, uint8(0))
	}
	f.Fuzz(func(t *testing.T, before, after string, form uint8) {
		v := sec
		if form%2 == 1 {
			v = b64
		}
		out := String(before + v + after)
		if strings.Contains(out, sec) || strings.Contains(out, b64) {
			t.Fatalf("String(%q) = %q keeps the secret", before+v+after, out)
		}
	})
}
