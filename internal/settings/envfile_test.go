package settings

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/dcehost/dcehost/internal/failure"
)

func TestParseEnvValues(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want map[string]string
	}{
		{"plain", "A=1", map[string]string{"A": "1"}},
		{"export prefix", "export A=1\n  export\tB=2", map[string]string{"A": "1", "B": "2"}},
		{"comments and blank lines", "# comment\n\n   # indented comment\nA=1 # trailing comment\n", map[string]string{"A": "1"}},
		{"hash inside a value", "A=abc#def", map[string]string{"A": "abc#def"}},
		{"double quotes", `A="x y"`, map[string]string{"A": "x y"}},
		{"single quotes", `A='x y'`, map[string]string{"A": "x y"}},
		{"quotes with comment", `A="x # y" # z`, map[string]string{"A": "x # y"}},
		{"one pair stripped", `A="'x'"`, map[string]string{"A": "'x'"}},
		{"spaces around", "  A =  value  ", map[string]string{"A": "value"}},
		{"equals in value", "A=b=c", map[string]string{"A": "b=c"}},
		{"crlf", "A=1\r\nB=2\r\n", map[string]string{"A": "1", "B": "2"}},
		{"byte order mark", "\ufeffA=1\n", map[string]string{"A": "1"}},
		{"empty value", "A=\nB=''", map[string]string{"A": "", "B": ""}},
		{"earlier variable", "DIR=/srv\nA=${DIR}/x\nB=\"$DIR/y\"\nC='$DIR'", map[string]string{"DIR": "/srv", "A": "/srv/x", "B": "/srv/y", "C": "$DIR"}},
		{"escaped dollar", `A=\$HOME`, map[string]string{"A": "$HOME"}},
		{"lower-case dollar left alone", "A=pa$word", map[string]string{"A": "pa$word"}},
		{"token-like value", "DISCORD_TOKEN=MTAx.GaBc-De_f.ghi", map[string]string{"DISCORD_TOKEN": "MTAx.GaBc-De_f.ghi"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, err := parseEnv("x.env", []byte(tt.in))
			if err != nil {
				t.Fatalf("parseEnv: %v", err)
			}
			if len(f.Keys()) != len(tt.want) {
				t.Errorf("Keys = %q, want %d keys", f.Keys(), len(tt.want))
			}
			for k, want := range tt.want {
				if got := f.values[k]; got != want {
					t.Errorf("%s = %q, want %q", k, got, want)
				}
				if f.Line(k) == 0 {
					t.Errorf("%s has no line", k)
				}
			}
		})
	}
}

// The env file is data, never a shell script: command substitutions stay
// literal text and run nothing.
func TestParseEnvNeverExecutes(t *testing.T) {
	dir := t.TempDir()
	marker := filepath.Join(dir, "marker")
	content := strings.Join([]string{
		"X=$(touch " + marker + ")",
		"Y=`touch " + marker + "`",
		`Z="$(touch ` + marker + `)"`,
		`W="` + "`touch " + marker + "`" + `"`,
		"V=a; touch " + marker,
		"U=$(touch " + marker + ") && rm -rf " + dir,
		"",
	}, "\n")
	envFile := filepath.Join(dir, "scrape.env")
	if err := os.WriteFile(envFile, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	s, err := Load(LoadOptions{EnvFileFlag: envFile, WorkDir: dir})
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	if _, err := os.Stat(marker); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("marker file exists (err=%v): the env file was executed", err)
	}
	want := map[string]string{
		"X": "$(touch " + marker + ")",
		"Y": "`touch " + marker + "`",
		"Z": "$(touch " + marker + ")",
		"W": "`touch " + marker + "`",
		"V": "a; touch " + marker,
	}
	for k, v := range want {
		if got := s.Get(k); got != v {
			t.Errorf("%s = %q, want the literal %q", k, got, v)
		}
	}
}

func TestParseEnvErrors(t *testing.T) {
	const secret = "MTAxMjM0NTY3ODkwMTIz.GaBcDe.not-a-real-token"
	tests := []struct {
		name string
		in   string
		want string // after "x.env:"
	}{
		{"bare word", "A=1\njust some text\n", "2: expected KEY=VALUE"},
		{"space instead of equals", "A=1\n\nKEY value\n", "3: expected KEY=VALUE"},
		{"yaml style", "KEY: value", "1: expected KEY=VALUE"},
		{"digit first", "1KEY=x", "1: expected KEY=VALUE"},
		{"dash in name", "MY-KEY=x", "1: expected KEY=VALUE"},
		{"export alone", "export", "1: expected KEY=VALUE"},
		{"unterminated double quote", "A=1\nB=\"abc\n", "2: B: unterminated quote"},
		{"unterminated single quote", "# c\nB='abc", "2: B: unterminated quote"},
		{"multi-line quoted value", "A=\"line one\nline two\"\n", "1: A: unterminated quote"},
		{"text after quotes", `A="x" y`, "1: A: unexpected text after the quoted value"},
		{"second assignment on a line", `A='x' B=2`, "1: A: unexpected text after the quoted value"},
		{"undefined reference", "A=$HOME/x", "1: A: $HOME is not set earlier in this file"},
		{"undefined braced reference", "A=1\nB=\"${LATER}\"\nLATER=2", "2: B: $LATER is not set earlier in this file"},
		{"bare token line", "DCE_UID=1\n" + secret + "\n", "2: expected KEY=VALUE"},
		{"unterminated token", "DISCORD_TOKEN=\"" + secret + "\n", "1: DISCORD_TOKEN: unterminated quote"},
		{"token then text", "DISCORD_TOKEN='" + secret + "' " + secret, "1: DISCORD_TOKEN: "},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, err := parseEnv("x.env", []byte(tt.in))
			if err == nil {
				t.Fatalf("parseEnv = %v, want an error", f.values)
			}
			if !failure.IsUsage(err) {
				t.Fatalf("error %T %v, want *failure.UsageError", err, err)
			}
			if want := "x.env:" + tt.want; !strings.HasPrefix(err.Error(), want) {
				t.Errorf("error %q does not start with %q", err, want)
			}
			if strings.Contains(err.Error(), secret) || strings.Contains(err.Error(), "abc") {
				t.Errorf("error %q repeats a value of the file", err)
			}
		})
	}
}

// Errors from Load name the file by its absolute path with the line.
func TestLoadSyntaxErrorNamesFile(t *testing.T) {
	fx := newFixture(t, "TZ=UTC\nDCE_UID='1000\n")
	_, err := fx.load(LoadOptions{})
	if want := fx.envFile + ":2: DCE_UID: unterminated quote"; !failure.IsUsage(err) || !strings.HasPrefix(err.Error(), want) {
		t.Fatalf("Load = %v, want a usage error starting with %q", err, want)
	}
}

func FuzzParseEnv(f *testing.F) {
	seeds := []string{
		"A=1\n",
		"export A='x y' # c\nB=\"${A}z\"\n",
		"# only a comment",
		"A=$(touch marker)\nB=`id`\n",
		"A=\"unterminated\n",
		"A=\"x\" y\n",
		"A=\\$HOME\r\nB=$A\n",
		"KEY: value\n",
		"A=\"\\\"\"\n",
		"\ufeffA=1\n",
	}
	for _, s := range seeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		env, err := parseEnv("fuzz.env", data)
		if err != nil {
			if !failure.IsUsage(err) {
				t.Fatalf("error %T %v is not a usage error", err, err)
			}
			if !strings.HasPrefix(err.Error(), "fuzz.env") {
				t.Fatalf("error %q does not name the file", err)
			}
			return
		}
		// Every key parsed has the line of its assignment.
		for _, k := range env.Keys() {
			if env.Line(k) == 0 {
				t.Fatalf("key %q has no line", k)
			}
		}
	})
}
