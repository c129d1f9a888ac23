package initcmd

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/dcehost/dcehost"
	"github.com/dcehost/dcehost/internal/cli/factory"
	"github.com/dcehost/dcehost/internal/failure"
	"github.com/dcehost/dcehost/internal/iostreams"
	"github.com/dcehost/dcehost/internal/settings"
	"github.com/dcehost/dcehost/internal/targets"
	"github.com/dcehost/dcehost/internal/token"
)

const tok = "MTk4NjIyNDgzNDcxOTI1MjQ4.Cl2FMQ.ZnCjm1XVW7vRze4b7Cq4se7kKWs"

type env struct {
	opts   *Options
	in     *bytes.Buffer
	out    *bytes.Buffer
	errOut *bytes.Buffer
	dir    string
}

func newEnv(t *testing.T) *env {
	t.Helper()
	io, in, out, errOut := iostreams.Test()
	dir := filepath.Join(t.TempDir(), "discord")
	return &env{
		opts: &Options{IO: io, Redactor: &token.Redactor{}, WorkDir: filepath.Dir(dir), Dir: "discord"},
		in:   in, out: out, errOut: errOut, dir: dir,
	}
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}

func mode(t *testing.T, path string) os.FileMode {
	t.Helper()
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return st.Mode().Perm()
}

func TestFreshDirectoryTokenFromStdin(t *testing.T) {
	e := newEnv(t)
	e.in.WriteString(tok + "\n")
	if err := runInit(e.opts); err != nil {
		t.Fatal(err)
	}
	envPath := filepath.Join(e.dir, EnvFile)
	if m := mode(t, envPath); m != 0o600 {
		t.Errorf("scrape.env mode %v, want 0600", m)
	}
	// The env file is the example with the token and the summary file set;
	// settings reads them back.
	s, err := settings.Load(settings.LoadOptions{EnvFileFlag: envPath, WorkDir: e.dir})
	if err != nil {
		t.Fatal(err)
	}
	if got := s.Get(settings.DiscordToken); got != tok {
		t.Errorf("DISCORD_TOKEN = %q, want the token", got)
	}
	if s.SummaryFile != filepath.Join(e.dir, "logs", "last-run-summary.json") {
		t.Errorf("summary file %q", s.SummaryFile)
	}
	if s.ConfigFile != filepath.Join(e.dir, "config", "scrape-targets.json") || s.ComposeFile != filepath.Join(e.dir, "docker-compose.yml") {
		t.Errorf("config %q compose %q: the defaults must find the files init wrote", s.ConfigFile, s.ComposeFile)
	}
	envText := readFile(t, envPath)
	if !strings.Contains(envText, "# --- Discord token") || strings.Count(envText, "DISCORD_TOKEN="+"'"+tok+"'") != 1 {
		t.Errorf("scrape.env is not the example with the token set once:\n%s", envText)
	}

	cfg, err := targets.Load(filepath.Join(e.dir, ConfigFile))
	if err != nil {
		t.Fatalf("skeleton config invalid: %v", err)
	}
	root := filepath.Join(e.dir, "archive")
	if cfg.ArchiveRoot != root {
		t.Errorf("archive_root %q, want %q", cfg.ArchiveRoot, root)
	}
	for _, tg := range cfg.Targets {
		if tg.Enabled || !strings.HasPrefix(tg.OutputDir, root+"/") {
			t.Errorf("skeleton target %+v: want disabled, under %s", tg, root)
		}
	}
	if got := readFile(t, filepath.Join(e.dir, ComposeFile)); got != string(dcehost.ComposeFile) {
		t.Error("docker-compose.yml differs from the embedded template")
	}
	if m := mode(t, filepath.Join(e.dir, LogsDir)); m != 0o700 {
		t.Errorf("logs/ mode %v, want 0700", m)
	}
	if st, err := os.Stat(root); err != nil || !st.IsDir() {
		t.Errorf("archive root not created: %v", err)
	}

	golden := strings.ReplaceAll(e.out.String(), e.dir, "$DIR")
	want := `created  $DIR/scrape.env  (mode 0600)
created  $DIR/config/scrape-targets.json  (edit it: guild ids, then enabled: true)
created  $DIR/docker-compose.yml
created  $DIR/logs/
created  $DIR/archive/

Next:
  1. edit $DIR/config/scrape-targets.json (guild ids, output dirs, enabled: true)
  2. dcehost doctor --env-file $DIR/scrape.env
  3. dcehost preflight --env-file $DIR/scrape.env
  4. dcehost cron install --env-file $DIR/scrape.env --log-file $DIR/logs/scrape.log
`
	if golden != want {
		t.Errorf("output:\n%s\nwant:\n%s", golden, want)
	}
	if strings.Contains(e.out.String()+e.errOut.String(), tok) {
		t.Error("the token was printed")
	}
}

func TestTokenFileAndArchiveRoot(t *testing.T) {
	e := newEnv(t)
	tf := filepath.Join(t.TempDir(), "token")
	if err := os.WriteFile(tf, []byte(tok+"\nsecond line ignored\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	e.opts.TokenFile = tf
	e.opts.ArchiveRoot = filepath.Join(t.TempDir(), `odd "root"`)
	e.in.WriteString("not-read-from-stdin-at-all-xxxxxxxx\n")
	if err := runInit(e.opts); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(readFile(t, filepath.Join(e.dir, EnvFile)), "DISCORD_TOKEN='"+tok+"'") {
		t.Error("token from --token-file not written")
	}
	cfg, err := targets.Load(filepath.Join(e.dir, ConfigFile))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.ArchiveRoot != e.opts.ArchiveRoot {
		t.Errorf("archive_root %q, want %q (JSON-escaped in the file)", cfg.ArchiveRoot, e.opts.ArchiveRoot)
	}
}

func TestTerminalPrompt(t *testing.T) {
	e := newEnv(t)
	e.opts.IO.SetStdinTTY(true)
	e.opts.ReadPassword = func() ([]byte, error) { return []byte(tok + "\n"), nil }
	if err := runInit(e.opts); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(e.errOut.String(), "not echoed") {
		t.Errorf("no prompt on stderr: %q", e.errOut.String())
	}
	if !strings.Contains(readFile(t, filepath.Join(e.dir, EnvFile)), tok) {
		t.Error("typed token not written")
	}
}

func TestNoToken(t *testing.T) {
	e := newEnv(t)
	if err := runInit(e.opts); err != nil {
		t.Fatal(err)
	}
	envText := readFile(t, filepath.Join(e.dir, EnvFile))
	if !strings.Contains(envText, "\n#DISCORD_TOKEN=\n") {
		t.Error("the DISCORD_TOKEN line of the example was changed without a token")
	}
	if !strings.Contains(e.out.String(), "note:    no token given") {
		t.Errorf("no note about the missing token:\n%s", e.out.String())
	}
}

func TestBadInputWritesNothing(t *testing.T) {
	tests := []struct {
		name  string
		setup func(e *env)
		want  string
	}{
		{"token with spaces", func(e *env) { e.in.WriteString("two words " + tok + "\n") }, "not a Discord token"},
		{"short token", func(e *env) { e.in.WriteString("abc\n") }, "not a Discord token"},
		{"missing token file", func(e *env) { e.opts.TokenFile = "/nonexistent/token" }, "--token-file /nonexistent/token"},
		{"empty token file", func(e *env) {
			p := filepath.Join(filepath.Dir(e.dir), "empty")
			_ = os.WriteFile(p, nil, 0o600)
			e.opts.TokenFile = p
		}, "is empty"},
		{"token flag", func(e *env) { e.opts.TokenFlag = true }, "--token: a token on the command line"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			tt.setup(e)
			err := runInit(e.opts)
			if !failure.IsUsage(err) || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want a usage error containing %q", err, tt.want)
			}
			if strings.Contains(err.Error(), tok) {
				t.Error("the error shows the token")
			}
			if _, serr := os.Stat(e.dir); !errors.Is(serr, os.ErrNotExist) {
				t.Errorf("%s was created despite the error", e.dir)
			}
		})
	}
}

func TestRefusesToOverwrite(t *testing.T) {
	e := newEnv(t)
	if err := os.MkdirAll(e.dir, 0o755); err != nil {
		t.Fatal(err)
	}
	compose := filepath.Join(e.dir, ComposeFile)
	if err := os.WriteFile(compose, []byte("mine\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	e.in.WriteString(tok + "\n")
	err := runInit(e.opts)
	if !failure.IsUsage(err) || !strings.Contains(err.Error(), compose) || !strings.Contains(err.Error(), "--force") {
		t.Fatalf("err = %v, want a usage error naming %s and --force", err, compose)
	}
	entries, _ := os.ReadDir(e.dir)
	if len(entries) != 1 || readFile(t, compose) != "mine\n" {
		t.Errorf("directory changed: %v", entries)
	}
}

func TestForceMergesAndKeeps(t *testing.T) {
	e := newEnv(t)
	if err := os.MkdirAll(filepath.Join(e.dir, "config"), 0o755); err != nil {
		t.Fatal(err)
	}
	oldEnv := "# my settings\n#DISCORD_TOKEN=\nexport DCE_MIN_FREE_MB=5\nDISCORD_TOKEN=\nCUSTOM_KEY=\"keep me\"" // no final newline
	envPath := filepath.Join(e.dir, EnvFile)
	if err := os.WriteFile(envPath, []byte(oldEnv), 0o644); err != nil {
		t.Fatal(err)
	}
	myConfig := `{"archive_root": "/srv/a", "targets": [{"name": "x", "output_dir": "/srv/a/x", "guild_ids": ["1"]}]}`
	configPath := filepath.Join(e.dir, ConfigFile)
	if err := os.WriteFile(configPath, []byte(myConfig), 0o644); err != nil {
		t.Fatal(err)
	}
	compose := filepath.Join(e.dir, ComposeFile)
	if err := os.WriteFile(compose, []byte("old compose\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	e.opts.Force = true
	e.in.WriteString(tok + "\n")
	if err := runInit(e.opts); err != nil {
		t.Fatal(err)
	}
	got := readFile(t, envPath)
	want := "# my settings\n#DISCORD_TOKEN=\nexport DCE_MIN_FREE_MB=5\nDISCORD_TOKEN='" + tok + "'\nCUSTOM_KEY=\"keep me\"\n" +
		"\n# added by dcehost init\nDCE_RUN_SUMMARY_FILE=logs/last-run-summary.json\n"
	if got != want {
		t.Errorf("merged scrape.env:\n%s\nwant:\n%s", got, want)
	}
	if m := mode(t, envPath); m != 0o600 {
		t.Errorf("merged scrape.env mode %v, want 0600", m)
	}
	if readFile(t, configPath) != myConfig {
		t.Error("an existing targets config was replaced")
	}
	if exists(filepath.Join(e.dir, "archive")) {
		t.Error("an archive root was created beside a kept config that names its own")
	}
	if readFile(t, compose) != string(dcehost.ComposeFile) || readFile(t, compose+".bak") != "old compose\n" {
		t.Error("docker-compose.yml not replaced with a backup")
	}
	out := strings.ReplaceAll(e.out.String(), e.dir, "$DIR")
	for _, line := range []string{
		"merged   $DIR/scrape.env  (mode 0600)",
		"kept     $DIR/config/scrape-targets.json  (your targets are never replaced)",
		"replaced $DIR/docker-compose.yml  (old one in docker-compose.yml.bak)",
	} {
		if !strings.Contains(out, line+"\n") {
			t.Errorf("output lacks %q:\n%s", line, out)
		}
	}

	// A second --force run finds nothing to do and keeps the token.
	e2 := newEnv(t)
	e2.opts.WorkDir, e2.opts.Force = e.opts.WorkDir, true
	e2.in.WriteString("AnotherTokenValue_abcdefghijklmnop\n")
	if err := runInit(e2.opts); err != nil {
		t.Fatal(err)
	}
	if readFile(t, envPath) != want {
		t.Error("second run changed scrape.env")
	}
	for _, line := range []string{"kept     " + envPath, "kept     " + compose, "note:    kept the DISCORD_TOKEN already in"} {
		if !strings.Contains(e2.out.String(), line) {
			t.Errorf("second run output lacks %q:\n%s", line, e2.out.String())
		}
	}
}

func TestForceRefusesBrokenEnvFile(t *testing.T) {
	e := newEnv(t)
	if err := os.MkdirAll(e.dir, 0o755); err != nil {
		t.Fatal(err)
	}
	envPath := filepath.Join(e.dir, EnvFile)
	if err := os.WriteFile(envPath, []byte("this is not an assignment\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	e.opts.Force = true
	err := runInit(e.opts)
	if !failure.IsUsage(err) || !strings.Contains(err.Error(), envPath+":1") {
		t.Fatalf("err = %v, want a usage error naming %s:1", err, envPath)
	}
	if readFile(t, envPath) != "this is not an assignment\n" {
		t.Error("broken env file changed")
	}
}

func TestCommandRefusesTokenFlagAndParsesArgs(t *testing.T) {
	io, _, _, _ := iostreams.Test()
	f := &factory.Factory{IO: io, Redactor: &token.Redactor{}}
	var got *Options
	cmd := NewCmdInit(f, func(o *Options) error { got = o; return runInit(o) })
	cmd.SetArgs([]string{"--token", tok, filepath.Join(t.TempDir(), "d")})
	cmd.SetOut(io.Out)
	cmd.SetErr(io.ErrOut)
	err := cmd.Execute()
	if !failure.IsUsage(err) || !got.TokenFlag {
		t.Fatalf("err = %v, want the --token flag refused", err)
	}
	if strings.Contains(err.Error(), tok) {
		t.Error("the refusal repeats the token")
	}

	cmd = NewCmdInit(f, func(o *Options) error { got = o; return nil })
	cmd.SetArgs([]string{"--force", "--token-file", "/t", "--archive-root", "/a", "dir"})
	if err := cmd.Execute(); err != nil {
		t.Fatal(err)
	}
	if got.Dir != "dir" || !got.Force || got.TokenFile != "/t" || got.ArchiveRoot != "/a" || got.TokenFlag {
		t.Errorf("parsed %+v", got)
	}
}

// The templates are the repository's own files (embedded), and the places
// init fills in exist in them.
func TestTemplates(t *testing.T) {
	for _, tc := range []struct {
		file string
		data []byte
	}{
		{"scrape.env.example", dcehost.EnvExample},
		{"docker-compose.yml", dcehost.ComposeFile},
		{"config/scrape-targets.example.json", dcehost.TargetsExample},
	} {
		if got := readFile(t, filepath.Join("..", "..", "..", tc.file)); got != string(tc.data) {
			t.Errorf("embedded %s differs from the repository's", tc.file)
		}
	}
	for _, line := range []string{"\n#DISCORD_TOKEN=\n", "\n#DCE_RUN_SUMMARY_FILE=logs/last-run-summary.json\n"} {
		if !bytes.Contains(dcehost.EnvExample, []byte(line)) {
			t.Errorf("scrape.env.example lacks %q (init sets it in place)", line)
		}
	}
	if !bytes.Contains(dcehost.TargetsExample, []byte(`"archive_root": "`+dcehost.ExampleArchiveRoot+`"`)) {
		t.Error("the targets example does not use ExampleArchiveRoot")
	}
}
