package token

import (
	"bytes"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/dcehost/dcehost/internal/failure"
	"github.com/dcehost/dcehost/internal/settings"
)

// Fake tokens: long and distinctive, so a leak into any text is caught.
const (
	tokA = "MTAxMjM0NTY3ODkwMTIz.GaBcDe.tokenA-secret_value"
	tokB = "MTAxMjM0NTY3ODkwMTIz.GzYxWv.tokenB-secret_value"
	tokC = "MTAxMjM0NTY3ODkwMTIz.GqQqQq.tokenC-secret_value"
)

var allTokens = []string{tokA, tokB, tokC}

// env is a test environment: a working directory holding scrape.env, and a
// home directory.
type env struct {
	dir, home string
}

func newEnv(t *testing.T) env {
	t.Helper()
	base := t.TempDir()
	e := env{dir: filepath.Join(base, "work"), home: filepath.Join(base, "home")}
	for _, d := range []string{e.dir, e.home} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	return e
}

// write creates path (relative to the env's base directory) with content
// and mode, making parent directories.
func write(t *testing.T, path, content string, mode os.FileMode) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), mode); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(path, mode); err != nil { // umask-proof
		t.Fatal(err)
	}
}

func (e env) settings(t *testing.T, environ ...string) *settings.Settings {
	t.Helper()
	s, err := settings.Load(settings.LoadOptions{Environ: environ, WorkDir: e.dir})
	if err != nil {
		t.Fatalf("settings.Load: %v", err)
	}
	return s
}

// logger returns a text logger into buf.
func logger(buf *bytes.Buffer) *slog.Logger {
	return slog.New(slog.NewTextHandler(buf, nil))
}

// assertNoToken fails when any fake token appears in texts.
func assertNoToken(t *testing.T, texts ...string) {
	t.Helper()
	for _, text := range texts {
		for _, tok := range allTokens {
			if strings.Contains(text, tok) {
				t.Fatalf("token leaked into %q", text)
			}
		}
	}
}

func TestFindAndLoad(t *testing.T) {
	tests := []struct {
		name    string
		envFile string               // content of scrape.env ("" = no file)
		environ func(e env) []string // process environment
		files   func(e env) map[string]string
		want    string // token Load returns
		source  func(e env) string
	}{
		{
			name: "token file variable beats DISCORD_TOKEN",
			environ: func(e env) []string {
				return []string{"DISCORD_TOKEN=" + tokB, "DISCORD_TOKEN_FILE=" + filepath.Join(e.home, "tok")}
			},
			files:  func(e env) map[string]string { return map[string]string{filepath.Join(e.home, "tok"): tokA + "\n"} },
			want:   tokA,
			source: func(e env) string { return "DISCORD_TOKEN_FILE=" + filepath.Join(e.home, "tok") },
		},
		{
			name:    "token file relative to the env file",
			envFile: "DISCORD_TOKEN_FILE=secrets/token\nDISCORD_TOKEN=" + tokB + "\n",
			files: func(e env) map[string]string {
				return map[string]string{filepath.Join(e.dir, "secrets", "token"): tokA}
			},
			want:   tokA,
			source: func(e env) string { return "DISCORD_TOKEN_FILE=" + filepath.Join(e.dir, "secrets", "token") },
		},
		{
			name:    "token file relative to the working directory from the environment",
			environ: func(e env) []string { return []string{"DISCORD_TOKEN_FILE=tok.txt"} },
			files:   func(e env) map[string]string { return map[string]string{filepath.Join(e.dir, "tok.txt"): tokA} },
			want:    tokA,
			source:  func(e env) string { return "DISCORD_TOKEN_FILE=" + filepath.Join(e.dir, "tok.txt") },
		},
		{
			name:    "process environment beats the env file",
			envFile: "DISCORD_TOKEN=" + tokB + "\n",
			environ: func(e env) []string { return []string{"DISCORD_TOKEN=" + tokA} },
			want:    tokA,
			source:  func(e env) string { return "DISCORD_TOKEN (environment)" },
		},
		{
			name:    "empty line in the env file does not erase the environment",
			envFile: "DISCORD_TOKEN=\n",
			environ: func(e env) []string { return []string{"DISCORD_TOKEN=" + tokA} },
			want:    tokA,
			source:  func(e env) string { return "DISCORD_TOKEN (environment)" },
		},
		{
			name:    "empty environment value falls back to the env file",
			envFile: "export DISCORD_TOKEN='" + tokA + "'\n",
			environ: func(e env) []string { return []string{"DISCORD_TOKEN="} },
			want:    tokA,
			source:  func(e env) string { return "DISCORD_TOKEN (" + filepath.Join(e.dir, "scrape.env") + ")" },
		},
		{
			name:    "discovered beside the env file first",
			envFile: "# no token here\n",
			files: func(e env) map[string]string {
				return map[string]string{
					filepath.Join(e.dir, ".discord-token"):                      tokA,
					filepath.Join(e.home, ".config", "discord-scrape", "token"): tokB,
					filepath.Join(e.home, ".config", "discord-token"):           tokC,
				}
			},
			want:   tokA,
			source: func(e env) string { return "token file " + filepath.Join(e.dir, ".discord-token") },
		},
		{
			name: "discovered in ~/.config/discord-scrape",
			files: func(e env) map[string]string {
				return map[string]string{
					filepath.Join(e.home, ".config", "discord-scrape", "token"): tokB,
					filepath.Join(e.home, ".config", "discord-token"):           tokC,
				}
			},
			want:   tokB,
			source: func(e env) string { return "token file " + filepath.Join(e.home, ".config", "discord-scrape", "token") },
		},
		{
			name: "discovered in ~/.config/discord-token",
			files: func(e env) map[string]string {
				return map[string]string{filepath.Join(e.home, ".config", "discord-token"): tokC}
			},
			want:   tokC,
			source: func(e env) string { return "token file " + filepath.Join(e.home, ".config", "discord-token") },
		},
		{
			name:    "env file in DCE_ENV_FILE: discovery beside it",
			environ: func(e env) []string { return []string{"DCE_ENV_FILE=" + filepath.Join(e.home, "cfg", "scrape.env")} },
			files: func(e env) map[string]string {
				return map[string]string{
					filepath.Join(e.home, "cfg", "scrape.env"):     "DCE_MIN_FREE_MB=0\n",
					filepath.Join(e.home, "cfg", ".discord-token"): tokB + "\r\n",
				}
			},
			want:   tokB,
			source: func(e env) string { return "token file " + filepath.Join(e.home, "cfg", ".discord-token") },
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			if tt.envFile != "" {
				write(t, filepath.Join(e.dir, "scrape.env"), tt.envFile, 0o600)
			}
			if tt.files != nil {
				for p, c := range tt.files(e) {
					write(t, p, c, 0o600)
				}
			}
			var environ []string
			if tt.environ != nil {
				environ = tt.environ(e)
			}
			src, err := Find(e.settings(t, environ...), e.home)
			if err != nil {
				t.Fatalf("Find: %v", err)
			}
			if got, want := src.String(), tt.source(e); got != want {
				t.Errorf("String() = %q, want %q", got, want)
			}
			var logs bytes.Buffer
			got, err := src.Load(logger(&logs))
			if err != nil {
				t.Fatalf("Load: %v", err)
			}
			if got != tt.want {
				t.Errorf("Load = %q, want %q", got, tt.want)
			}
			if logs.Len() != 0 {
				t.Errorf("unexpected log output: %s", logs.String())
			}
			assertNoToken(t, src.String(), src.RefreshHint(), logs.String())
		})
	}
}

func TestFindNothing(t *testing.T) {
	for _, noHome := range []bool{false, true} {
		e := newEnv(t)
		home := e.home
		if noHome {
			home = ""
		}
		_, err := Find(e.settings(t), home)
		if !failure.IsUsage(err) {
			t.Fatalf("Find = %v, want a usage error", err)
		}
		for _, w := range []string{"no Discord token", "DISCORD_TOKEN_FILE", "DISCORD_TOKEN", filepath.Join(e.dir, ".discord-token")} {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("error %q does not mention %q", err, w)
			}
		}
		if mentions := strings.Contains(err.Error(), filepath.Join(e.home, ".config", "discord-token")); mentions == noHome {
			t.Errorf("home=%q: error %q mentions home paths: %v", home, err, mentions)
		}
	}
}

func TestLoadFileFirstLine(t *testing.T) {
	tests := map[string]string{
		"plain":         tokA,
		"newline":       tokA + "\n",
		"crlf":          tokA + "\r\n",
		"spaces":        "  " + tokA + " \t\r\n",
		"more lines":    tokA + "\nsecond line\n",
		"byte order":    "\ufeff" + tokA + "\n",
		"no final line": tokA,
	}
	for name, content := range tests {
		t.Run(name, func(t *testing.T) {
			e := newEnv(t)
			path := filepath.Join(e.home, "tok")
			write(t, path, content, 0o600)
			src, err := Find(e.settings(t, "DISCORD_TOKEN_FILE="+path), e.home)
			if err != nil {
				t.Fatal(err)
			}
			got, err := src.Load(nil)
			if err != nil || got != tokA {
				t.Fatalf("Load = %q, %v; want %q", got, err, tokA)
			}
		})
	}
}

func TestLoadRereads(t *testing.T) {
	t.Run("token file", func(t *testing.T) {
		e := newEnv(t)
		path := filepath.Join(e.home, "tok")
		write(t, path, tokA+"\n", 0o600)
		src, err := Find(e.settings(t, "DISCORD_TOKEN_FILE="+path), e.home)
		if err != nil {
			t.Fatal(err)
		}
		for _, want := range []string{tokA, tokB} {
			write(t, path, want+"\n", 0o600)
			got, err := src.Load(nil)
			if err != nil || got != want {
				t.Fatalf("Load = %q, %v; want %q", got, err, want)
			}
		}
	})
	t.Run("env file", func(t *testing.T) {
		e := newEnv(t)
		envFile := filepath.Join(e.dir, "scrape.env")
		write(t, envFile, "DISCORD_TOKEN="+tokA+"\n", 0o600)
		src, err := Find(e.settings(t), e.home)
		if err != nil {
			t.Fatal(err)
		}
		for _, want := range []string{tokA, tokB} {
			write(t, envFile, "# refreshed\nexport DISCORD_TOKEN=\""+want+"\"\n", 0o600)
			got, err := src.Load(nil)
			if err != nil || got != want {
				t.Fatalf("Load = %q, %v; want %q", got, err, want)
			}
		}
		if !strings.Contains(src.RefreshHint(), envFile) {
			t.Errorf("RefreshHint %q does not name %s", src.RefreshHint(), envFile)
		}
	})
}

func TestLoadErrors(t *testing.T) {
	tests := []struct {
		name  string
		setup func(t *testing.T, e env) (environ []string)
		want  []string
	}{
		{
			name: "missing token file",
			setup: func(t *testing.T, e env) []string {
				return []string{"DISCORD_TOKEN_FILE=" + filepath.Join(e.home, "missing"), "DISCORD_TOKEN=" + tokB}
			},
			want: []string{"DISCORD_TOKEN_FILE=", "missing", "does not exist", "write the new token"},
		},
		{
			name: "empty token file",
			setup: func(t *testing.T, e env) []string {
				write(t, filepath.Join(e.home, "tok"), "\n"+tokA+"\n", 0o600)
				return []string{"DISCORD_TOKEN_FILE=" + filepath.Join(e.home, "tok")}
			},
			want: []string{"DISCORD_TOKEN_FILE=", "first line of the token file is empty"},
		},
		{
			name: "blank token file",
			setup: func(t *testing.T, e env) []string {
				write(t, filepath.Join(e.home, "tok"), " \r\n", 0o600)
				return []string{"DISCORD_TOKEN_FILE=" + filepath.Join(e.home, "tok")}
			},
			want: []string{"is empty"},
		},
		{
			name: "token file is a directory",
			setup: func(t *testing.T, e env) []string {
				return []string{"DISCORD_TOKEN_FILE=" + e.home}
			},
			want: []string{"is a directory"},
		},
		{
			name: "discovered token file is a directory",
			setup: func(t *testing.T, e env) []string {
				if err := os.MkdirAll(filepath.Join(e.home, ".config", "discord-token"), 0o700); err != nil {
					t.Fatal(err)
				}
				return nil
			},
			want: []string{"token file ", "discord-token: is a directory"},
		},
		{
			name: "env file rewritten without the token",
			setup: func(t *testing.T, e env) []string {
				write(t, filepath.Join(e.dir, "scrape.env"), "DISCORD_TOKEN="+tokA+"\n", 0o600)
				return nil
			},
			want: []string{"no longer sets DISCORD_TOKEN", "replace the DISCORD_TOKEN= line"},
		},
		{
			name: "env file rewritten with an unterminated quote",
			setup: func(t *testing.T, e env) []string {
				write(t, filepath.Join(e.dir, "scrape.env"), "DISCORD_TOKEN="+tokA+"\n", 0o600)
				return nil
			},
			want: []string{"scrape.env:2: DISCORD_TOKEN: unterminated quote"},
		},
		{
			name: "env file removed",
			setup: func(t *testing.T, e env) []string {
				write(t, filepath.Join(e.dir, "scrape.env"), "DISCORD_TOKEN="+tokA+"\n", 0o600)
				return nil
			},
			want: []string{"DISCORD_TOKEN (", "no such file"},
		},
	}
	rewrite := map[string]string{
		"env file rewritten without the token":          "DCE_MIN_FREE_MB=0\nDISCORD_TOKEN=\n",
		"env file rewritten with an unterminated quote": "# x\nDISCORD_TOKEN=\"" + tokB + "\n",
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			environ := tt.setup(t, e)
			src, err := Find(e.settings(t, environ...), e.home)
			if err != nil {
				t.Fatalf("Find: %v", err)
			}
			envFile := filepath.Join(e.dir, "scrape.env")
			if content, ok := rewrite[tt.name]; ok {
				write(t, envFile, content, 0o600)
			}
			if tt.name == "env file removed" {
				if err := os.Remove(envFile); err != nil {
					t.Fatal(err)
				}
			}
			var logs bytes.Buffer
			tok, err := src.Load(logger(&logs))
			if err == nil {
				t.Fatalf("Load = %q, want an error", tok)
			}
			if !failure.IsUsage(err) {
				t.Fatalf("Load error %T %v, want *failure.UsageError", err, err)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
			assertNoToken(t, err.Error(), logs.String())
		})
	}
}

func TestLoadUnreadable(t *testing.T) {
	if os.Geteuid() == 0 {
		t.Skip("root reads any file")
	}
	e := newEnv(t)
	path := filepath.Join(e.home, "tok")
	write(t, path, tokA, 0o000)
	src, err := Find(e.settings(t, "DISCORD_TOKEN_FILE="+path), e.home)
	if err != nil {
		t.Fatal(err)
	}
	_, err = src.Load(nil)
	if !failure.IsUsage(err) || !strings.Contains(err.Error(), "not readable") || !strings.Contains(err.Error(), path) {
		t.Fatalf("Load = %v, want a usage error saying %s is not readable", err, path)
	}
}

func TestLoadWarnsOnLooseMode(t *testing.T) {
	tests := []struct {
		mode os.FileMode
		warn bool
	}{
		{0o600, false},
		{0o400, false},
		{0o640, true},
		{0o604, true},
		{0o644, true},
	}
	for _, tt := range tests {
		t.Run(tt.mode.String(), func(t *testing.T) {
			e := newEnv(t)
			path := filepath.Join(e.home, ".config", "discord-token")
			write(t, path, tokA+"\n", tt.mode)
			src, err := Find(e.settings(t), e.home)
			if err != nil {
				t.Fatal(err)
			}
			var logs bytes.Buffer
			got, err := src.Load(logger(&logs))
			if err != nil || got != tokA {
				t.Fatalf("Load = %q, %v", got, err)
			}
			out := logs.String()
			if !tt.warn {
				if out != "" {
					t.Fatalf("unexpected warning: %s", out)
				}
				return
			}
			for _, w := range []string{"level=WARN", "file=" + path, "chmod 600 " + path} {
				if !strings.Contains(out, w) {
					t.Errorf("log %q does not contain %q", out, w)
				}
			}
			assertNoToken(t, out)
		})
	}
}

func TestRefreshHintAndString(t *testing.T) {
	e := newEnv(t)
	src, err := Find(e.settings(t, "DISCORD_TOKEN="+tokA), e.home)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(src.RefreshHint(), "DISCORD_TOKEN_FILE") {
		t.Errorf("RefreshHint for the environment = %q, want it to suggest DISCORD_TOKEN_FILE", src.RefreshHint())
	}
	assertNoToken(t, src.String(), src.RefreshHint())
}
