package github

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

func TestParseBashrc(t *testing.T) {
	tests := []struct {
		name     string
		text     string
		want     string
		wantLine int
	}{
		{"export bare", "export GITHUB_TOKEN=ghp_bare123\n", "ghp_bare123", 1},
		{"plain assignment", "GITHUB_TOKEN=ghp_plain123", "ghp_plain123", 1},
		{"indented export with tab", "if true; then\n\texport GITHUB_TOKEN=ghp_tab123\nfi\n", "ghp_tab123", 2},
		{"double quotes", `export GITHUB_TOKEN="ghp_dq123"`, "ghp_dq123", 1},
		{"single quotes", `export GITHUB_TOKEN='ghp_sq$123'`, "ghp_sq$123", 1},
		{"escaped dollar in double quotes", `export GITHUB_TOKEN="ghp_\$esc"`, "ghp_$esc", 1},
		{"trailing comment", "export GITHUB_TOKEN=ghp_c123 # my token\n", "ghp_c123", 1},
		{"trailing semicolon", "export GITHUB_TOKEN='ghp_semi';\n", "ghp_semi", 1},
		{"mixed quoting", `GITHUB_TOKEN=ghp_'a'"b"c`, "ghp_abc", 1},
		{"last assignment wins", "export GITHUB_TOKEN=old_tok1\n# comment\nexport GITHUB_TOKEN=new_tok2\n", "new_tok2", 3},
		{"later unusable line keeps the earlier literal", "export GITHUB_TOKEN=lit_tok1\nexport GITHUB_TOKEN=$(cat ~/.tok)\n", "lit_tok1", 1},
		{"command substitution is not run", "export GITHUB_TOKEN=$(pass show github)\n", "", 0},
		{"command substitution in double quotes", `export GITHUB_TOKEN="$(cat /x)"`, "", 0},
		{"backquotes", "export GITHUB_TOKEN=`cat /x`", "", 0},
		{"variable expansion", "export GITHUB_TOKEN=$OTHER_TOKEN", "", 0},
		{"unterminated quote", `export GITHUB_TOKEN="ghp_open`, "", 0},
		{"empty value", "export GITHUB_TOKEN=\n", "", 0},
		{"commented out", "# export GITHUB_TOKEN=ghp_commented\n", "", 0},
		{"other variable", "export GH_HOST_TOKEN=nope1234\nexport MY_GITHUB_TOKEN=nope5678\n", "", 0},
		{"assignment for one command only", "GITHUB_TOKEN=ghp_cmd123 gh pr list\n", "", 0},
		{"exported name without value", "export GITHUB_TOKEN\n", "", 0},
		{"exportGITHUB_TOKEN is not export", "exportGITHUB_TOKEN=ghp_x1234\n", "", 0},
		{"CRLF line ending", "export GITHUB_TOKEN=ghp_crlf123\r\n", "ghp_crlf123", 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, line := ParseBashrc([]byte(tt.text))
			if got != tt.want || line != tt.wantLine {
				t.Fatalf("ParseBashrc(%q) = %q, line %d; want %q, line %d", tt.text, got, line, tt.want, tt.wantLine)
			}
		})
	}
}

// fakeGh is a Runner standing in for `gh auth token`.
type fakeGh struct {
	out   string
	err   error
	calls [][]string
}

func (f *fakeGh) run(_ context.Context, name string, args ...string) ([]byte, error) {
	f.calls = append(f.calls, append([]string{name}, args...))
	return []byte(f.out), f.err
}

func TestFindTokenPrecedence(t *testing.T) {
	dir := t.TempDir()
	bashrc := filepath.Join(dir, "bashrc")
	if err := os.WriteFile(bashrc, []byte("export GITHUB_TOKEN='from_bashrc_1'\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	home := t.TempDir()
	if err := os.WriteFile(filepath.Join(home, ".bashrc"), []byte("export GITHUB_TOKEN=from_home_bashrc\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	ghInstalled := func(string) (string, error) { return "/usr/bin/gh", nil }
	ghMissing := func(string) (string, error) { return "", exec.ErrNotFound }

	tests := []struct {
		name       string
		env        map[string]string
		lookPath   func(string) (string, error)
		gh         *fakeGh
		flag       string
		want       string
		wantSource string
		wantGhRun  bool
	}{
		{
			name: "GH_TOKEN first", env: map[string]string{"GH_TOKEN": "from_gh_token", "GITHUB_TOKEN": "from_github_token"},
			lookPath: ghInstalled, gh: &fakeGh{out: "from_gh_cli\n"}, flag: bashrc,
			want: "from_gh_token", wantSource: "GH_TOKEN (environment)",
		},
		{
			name: "GITHUB_TOKEN second", env: map[string]string{"GITHUB_TOKEN": "from_github_token"},
			lookPath: ghInstalled, gh: &fakeGh{out: "from_gh_cli\n"}, flag: bashrc,
			want: "from_github_token", wantSource: "GITHUB_TOKEN (environment)",
		},
		{
			name: "blank GH_TOKEN is skipped", env: map[string]string{"GH_TOKEN": "  ", "GITHUB_TOKEN": "from_github_token"},
			lookPath: ghInstalled, gh: &fakeGh{out: "from_gh_cli\n"},
			want: "from_github_token", wantSource: "GITHUB_TOKEN (environment)",
		},
		{
			name: "gh auth token third", lookPath: ghInstalled, gh: &fakeGh{out: "from_gh_cli\n"}, flag: bashrc,
			want: "from_gh_cli", wantSource: "gh auth token", wantGhRun: true,
		},
		{
			name: "gh not logged in falls through to bashrc", lookPath: ghInstalled,
			gh: &fakeGh{err: errors.New("exit status 1")}, flag: bashrc,
			want: "from_bashrc_1", wantSource: bashrc + ":1", wantGhRun: true,
		},
		{
			name: "gh not installed falls through to bashrc", lookPath: ghMissing, gh: &fakeGh{out: "never"}, flag: bashrc,
			want: "from_bashrc_1", wantSource: bashrc + ":1",
		},
		{
			name: "GH_APPROVE_BASHRC names the file", env: map[string]string{"GH_APPROVE_BASHRC": bashrc},
			lookPath: ghMissing, gh: &fakeGh{},
			want: "from_bashrc_1", wantSource: bashrc + ":1",
		},
		{
			name: "--bashrc beats GH_APPROVE_BASHRC", env: map[string]string{"GH_APPROVE_BASHRC": filepath.Join(dir, "absent")},
			lookPath: ghMissing, gh: &fakeGh{}, flag: bashrc,
			want: "from_bashrc_1", wantSource: bashrc + ":1",
		},
		{
			name: "default ~/.bashrc", lookPath: ghMissing, gh: &fakeGh{},
			want: "from_home_bashrc", wantSource: filepath.Join(home, ".bashrc") + ":1",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var registered []string
			tok, err := FindToken(context.Background(), TokenOptions{
				Getenv:   func(k string) string { return tt.env[k] },
				LookPath: tt.lookPath,
				Run:      tt.gh.run,
				Bashrc:   tt.flag,
				Home:     home,
				Register: func(s string) { registered = append(registered, s) },
			})
			if err != nil {
				t.Fatalf("FindToken: %v", err)
			}
			if tok.Value != tt.want || !strings.HasPrefix(tok.Source, tt.wantSource) {
				t.Fatalf("token = %q from %q; want %q from %q...", tok.Value, tok.Source, tt.want, tt.wantSource)
			}
			if strings.Contains(tok.Source, tok.Value) {
				t.Fatalf("source %q contains the token", tok.Source)
			}
			if len(registered) == 0 || registered[len(registered)-1] != tt.want {
				t.Fatalf("registered %q, want the token registered with the redactor", registered)
			}
			if got := len(tt.gh.calls) > 0; got != tt.wantGhRun {
				t.Fatalf("gh run = %v, want %v (calls %q)", got, tt.wantGhRun, tt.gh.calls)
			}
			for _, c := range tt.gh.calls {
				if strings.Join(c, " ") != "/usr/bin/gh auth token" {
					t.Fatalf("gh argv = %q, want [/usr/bin/gh auth token]", c)
				}
			}
		})
	}
}

func TestFindTokenMissing(t *testing.T) {
	home := t.TempDir() // no .bashrc
	_, err := FindToken(context.Background(), TokenOptions{
		Getenv:   func(string) string { return "" },
		LookPath: func(string) (string, error) { return "", exec.ErrNotFound },
		Run:      (&fakeGh{}).run,
		Home:     home,
	})
	var auth *AuthError
	if !errors.As(err, &auth) {
		t.Fatalf("FindToken with no token = %v, want *AuthError", err)
	}
}

func TestFindTokenExplicitBashrcUnreadable(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "nope")
	_, err := FindToken(context.Background(), TokenOptions{
		Getenv:   func(string) string { return "" },
		LookPath: func(string) (string, error) { return "", exec.ErrNotFound },
		Bashrc:   missing,
	})
	var be *BashrcError
	if !errors.As(err, &be) || be.Path != missing {
		t.Fatalf("FindToken(--bashrc %s) = %v, want *BashrcError naming it", missing, err)
	}
}

// A .bashrc whose every line would create a marker file if the shell ran
// it. The lookup must read it as text only.
const hostileBashrc = `touch MARKER
export GITHUB_TOKEN=$(touch MARKER; echo from_subshell)
export GITHUB_TOKEN="$(touch MARKER)"
export GITHUB_TOKEN=` + "`touch MARKER`" + `
GITHUB_TOKEN=literal_tok_42 touch MARKER
export GITHUB_TOKEN='literal_tok_99' ; touch MARKER
`

func TestBashrcIsNeverExecuted(t *testing.T) {
	dir := t.TempDir()
	marker := filepath.Join(dir, "marker")
	bashrc := filepath.Join(dir, "bashrc")
	text := strings.ReplaceAll(hostileBashrc, "MARKER", marker)
	if err := os.WriteFile(bashrc, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}

	tok, err := FindToken(context.Background(), TokenOptions{
		Getenv:   func(string) string { return "" },
		LookPath: func(string) (string, error) { return "", exec.ErrNotFound },
		Bashrc:   bashrc,
	})
	if err != nil {
		t.Fatalf("FindToken: %v", err)
	}
	if tok.Value != "literal_tok_99" {
		t.Fatalf("token = %q, want the literal on line 6", tok.Value)
	}
	if !strings.HasPrefix(tok.Source, bashrc+":6") {
		t.Fatalf("source = %q, want %s:6", tok.Source, bashrc)
	}
	if _, err := os.Stat(marker); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("marker %s exists (stat: %v): the bashrc was executed", marker, err)
	}

	// The fixture is only a proof if running it would have created the
	// marker: show that with a real shell, on a copy with its own marker.
	bash, err := exec.LookPath("bash")
	if err != nil {
		t.Skip("bash not installed: fixture not cross-checked")
	}
	control := filepath.Join(dir, "control-marker")
	controlRC := filepath.Join(dir, "control-bashrc")
	if err := os.WriteFile(controlRC, []byte(strings.ReplaceAll(hostileBashrc, "MARKER", control)), 0o600); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(bash, "--norc", "--noprofile", controlRC).CombinedOutput(); err != nil {
		t.Fatalf("bash %s: %v: %s", controlRC, err, out)
	}
	if _, err := os.Stat(control); err != nil {
		t.Fatalf("running the fixture with bash did not create %s: the test proves nothing (%v)", control, err)
	}
}

func FuzzParseBashrc(f *testing.F) {
	f.Add([]byte(hostileBashrc))
	f.Add([]byte("export GITHUB_TOKEN=\"a\\\"b\" # c\nGITHUB_TOKEN='x'\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		v, line := ParseBashrc(data)
		if (v == "") != (line == 0) {
			t.Fatalf("value %q with line %d", v, line)
		}
		if strings.ContainsAny(v, "\n") {
			t.Fatalf("value %q spans lines", v)
		}
	})
}
