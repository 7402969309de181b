package collectors

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestSecret(t *testing.T) {
	const tok = "s3cr3t-value"
	dir := t.TempDir()
	file := filepath.Join(dir, "token")
	if err := os.WriteFile(file, []byte("  "+tok+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	empty := filepath.Join(dir, "empty")
	if err := os.WriteFile(empty, []byte("\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	env := Env{Getenv: func(k string) string {
		switch k {
		case "TOK":
			return tok + "\n"
		case "BLANK":
			return " \t\n"
		}
		return ""
	}}
	for _, c := range []struct {
		name, file, envName string
		want, wantErr       string
	}{
		{"file wins over the environment", file, "TOK", tok, ""},
		{"environment, trimmed", "", "TOK", tok, ""},
		{"missing file", filepath.Join(dir, "nope"), "TOK", "", "vendorx: token_file: cannot read " + filepath.Join(dir, "nope") + ": no such file or directory"},
		{"empty file", empty, "", "", "vendorx: token_file: " + empty + " is empty"},
		{"directory", dir, "", "", "vendorx: token_file: cannot read " + dir + ": is a directory"},
		{"variable not set", "", "UNSET", "", "vendorx: environment variable UNSET is not set"},
		{"variable only white space", "", "BLANK", "", "vendorx: environment variable BLANK holds only white space"},
	} {
		got, err := env.Secret("vendorx", "token_file", c.file, c.envName)
		if got != c.want {
			t.Errorf("%s: got %q, want %q", c.name, got, c.want)
		}
		switch {
		case c.wantErr == "" && err != nil:
			t.Errorf("%s: %v", c.name, err)
		case c.wantErr != "" && (err == nil || err.Error() != c.wantErr):
			t.Errorf("%s: error %v, want %q", c.name, err, c.wantErr)
		}
		if err != nil && strings.Contains(err.Error(), tok) {
			t.Errorf("%s: error shows the secret: %v", c.name, err)
		}
	}
}

func TestLookupFallsBackToOS(t *testing.T) {
	t.Setenv("CDNMETRICS_TEST_LOOKUP", "x")
	if v := (Env{}).Lookup("CDNMETRICS_TEST_LOOKUP"); v != "x" {
		t.Errorf("Lookup without Getenv = %q, want the process environment's %q", v, "x")
	}
}

func TestReadable(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "f")
	if err := os.WriteFile(file, []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := Readable(file); err != nil {
		t.Errorf("readable file: %v", err)
	}
	if err := Readable(dir); err == nil || err.Error() != dir+" is a directory" {
		t.Errorf("directory: %v", err)
	}
	if err := Readable(filepath.Join(dir, "nope")); err == nil || !strings.Contains(err.Error(), "no such file") {
		t.Errorf("missing file: %v", err)
	}
}

func TestCheckURL(t *testing.T) {
	for _, c := range []struct {
		url, wantErr string
	}{
		{"https://api.example.net", ""},
		{"http://127.0.0.1:8080/v1", ""},
		{"ftp://api.example.net", `"ftp://api.example.net" is not an http(s)://host[/path] URL`},
		{"https://", `"https:" is not an http(s)://host[/path] URL`},
		{"api.example.net", `"api.example.net" is not an http(s)://host[/path] URL`},
		// A query or fragment may hold a key (?api_key=…): never quoted.
		{"https://api.example.net/?a=1", `"https://api.example.net/?xxxxx": no credentials, query or fragment allowed`},
		{"https://api.example.net/?api_key=hunter2", `"https://api.example.net/?xxxxx": no credentials, query or fragment allowed`},
		{"https://api.example.net/#x", `"https://api.example.net/#xxxxx": no credentials, query or fragment allowed`},
		// The password never shows in the error.
		{"https://user:hunter2@api.example.net", `"https://user:xxxxx@api.example.net": no credentials, query or fragment allowed`},
		{"ftp://user:hunter2@api.example.net", `"ftp://user:xxxxx@api.example.net" is not an http(s)://host[/path] URL`},
		{"http://user:hunter2@[::1", "not a URL (cannot be parsed)"},
	} {
		err := CheckURL(c.url)
		got := ""
		if err != nil {
			got = err.Error()
		}
		if got != c.wantErr {
			t.Errorf("CheckURL(%q) = %q, want %q", c.url, got, c.wantErr)
		}
	}
}

// CredentialProblems refuses, before the network, what Secret refuses at
// start, under the section's keys.
func TestCredentialProblems(t *testing.T) {
	dir := t.TempDir()
	open := filepath.Join(dir, "open")
	if err := os.WriteFile(open, []byte("x\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(open, 0o644); err != nil { // past the umask
		t.Fatal(err)
	}
	env := Env{Getenv: func(k string) string {
		if k == "TOK" {
			return "x"
		}
		return ""
	}}
	tok := func(file, envName, missing string) Credential {
		return Credential{FileKey: "token_file", File: file, EnvKey: "token_env", Env: envName, Missing: missing}
	}
	for _, c := range []struct {
		name string
		cred Credential
		want string // "" for no problem
	}{
		{"variable set", tok("", "TOK", ""), ""},
		{"variable not set", tok("", "UNSET", ""), "v.token_env: environment variable UNSET is not set"},
		{"no variable name", tok("", "", ""), "v.token_env: set token_env (an environment variable name) or token_file"},
		{"no variable name, own message", tok("", "", "say so"), "v.token_env: say so"},
		{"missing file", tok(filepath.Join(dir, "nope"), "TOK", ""), "v.token_file: cannot read " + filepath.Join(dir, "nope") + ": no such file or directory"},
	} {
		ps := env.CredentialProblems("v", c.cred)
		got := ""
		if len(ps) > 1 {
			t.Errorf("%s: %v, want one problem at most", c.name, ps)
		}
		if len(ps) == 1 {
			got = ps[0].String()
			if ps[0].Warning {
				t.Errorf("%s: %v is a warning, want an error", c.name, ps[0])
			}
		}
		if got != c.want {
			t.Errorf("%s: got %q, want %q", c.name, got, c.want)
		}
	}
	if ps := env.CredentialProblems("v", tok(open, "", "")); len(ps) != 1 || !ps[0].Warning || ps[0].Key != "v.token_file" {
		t.Errorf("file readable by others: %v, want one warning under v.token_file", ps)
	}
	blank := Env{Getenv: func(string) string { return " \t" }}
	if ps := blank.CredentialProblems("v", tok("", "TOK", "")); len(ps) != 1 || ps[0].String() != "v.token_env: environment variable TOK holds only white space" {
		t.Errorf("variable only white space: %v", ps)
	}
}

// TestCheckSecretFileRefusesBlank: validate refuses a secret file that run
// (Secret) would find empty, naming the file, never its content.
func TestCheckSecretFileRefusesBlank(t *testing.T) {
	dir := t.TempDir()
	blank := filepath.Join(dir, "blank")
	if err := os.WriteFile(blank, []byte(" \t\r\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := CheckSecretFile(blank); err == nil || err.Error() != blank+" is empty" {
		t.Errorf("blank file: %v, want %q", err, blank+" is empty")
	}
	full := filepath.Join(dir, "full")
	if err := os.WriteFile(full, []byte("\n s3cr3t\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := CheckSecretFile(full); err != nil {
		t.Errorf("file with a secret: %v", err)
	}
}
