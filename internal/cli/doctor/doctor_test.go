package doctor

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/dcehost/dcehost"
	"github.com/dcehost/dcehost/internal/cron"
	"github.com/dcehost/dcehost/internal/failure"
	"github.com/dcehost/dcehost/internal/iostreams"
	"github.com/dcehost/dcehost/internal/lock"
	"github.com/dcehost/dcehost/internal/settings"
	"github.com/dcehost/dcehost/internal/token"
)

var update = flag.Bool("update", false, "rewrite the golden files")

const (
	tok = "MTk4NjIyNDgzNDcxOTI1MjQ4.Cl2FMQ.ZnCjm1XVW7vRze4b7Cq4se7kKWs"
	exe = "/opt/dcehost/bin/dcehost"
)

// crontabDouble answers `crontab -l` with its text ("" = no crontab).
type crontabDouble struct{ text string }

type exitError int

func (e exitError) Error() string { return fmt.Sprintf("exit status %d", int(e)) }
func (e exitError) ExitCode() int { return int(e) }

func (c *crontabDouble) Run(_ context.Context, argv []string, _ io.Reader, stdout, stderr io.Writer) error {
	if argv[len(argv)-1] != "-l" {
		return fmt.Errorf("doctor must only read the crontab, ran %q", argv)
	}
	if c.text == "" {
		io.WriteString(stderr, "no crontab for me\n")
		return exitError(1)
	}
	io.WriteString(stdout, c.text)
	return nil
}

type setup struct {
	dir, root, envPath, home string
	env                      map[string]string // scrape.env lines, in order of keys below
	envMode                  os.FileMode
	configJSON               string
	compose                  string
	engine                   func(argv []string) (string, error)
	crontab                  *crontabDouble
	freeMB                   uint64
	runner                   string
	noSchedule               bool
	after                    func(t *testing.T, s *setup) func() // extra breakage; returns cleanup
}

var envOrder = []string{"DISCORD_TOKEN", "DISCORD_TOKEN_FILE", "DCE_COMPOSE_BIN", "DCE_CLI_BIN", "DCE_MIN_FREE_MB", "DCE_HEALTHCHECK_URL", "DCE_METRICS_FILE"}

// healthy returns a working setup: every check passes.
func healthy(t *testing.T) *setup {
	t.Helper()
	dir := t.TempDir()
	fakeBin := filepath.Join(dir, "bin")
	if err := os.MkdirAll(fakeBin, 0o755); err != nil {
		t.Fatal(err)
	}
	// Executables doctor looks up; never run (Exec is injected).
	for _, name := range []string{"docker-compose", "DiscordChatExporter.Cli"} {
		if err := os.WriteFile(filepath.Join(fakeBin, name), []byte("#!/bin/sh\nexit 99\n"), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	s := &setup{
		dir:     dir,
		root:    filepath.Join(dir, "archive"),
		envPath: filepath.Join(dir, "scrape.env"),
		home:    filepath.Join(dir, "home"),
		env: map[string]string{
			"DISCORD_TOKEN":   "'" + tok + "'",
			"DCE_COMPOSE_BIN": filepath.Join(fakeBin, "docker-compose"),
			"DCE_MIN_FREE_MB": "1024",
		},
		envMode: 0o600,
		compose: string(dcehost.ComposeFile),
		engine: func(argv []string) (string, error) {
			if len(argv) >= 2 && filepath.Base(argv[0]) == "docker" && argv[1] == "info" {
				return "27.1.1\n", nil
			}
			return "", fmt.Errorf("unexpected probe %q", argv)
		},
		crontab: &crontabDouble{text: "# BEGIN discord-scrape\n0 4 1 * * " + exe + " scrape --env-file " + filepath.Join(dir, "scrape.env") + "\n# END discord-scrape\n"},
		freeMB:  50000,
		runner:  "compose",
	}
	s.configJSON = fmt.Sprintf(`{"archive_root": %q, "targets": [{"name": "myserver", "output_dir": %q, "guild_ids": ["123456789012345678"]}]}`,
		s.root, filepath.Join(s.root, "myserver"))
	return s
}

func (s *setup) run(t *testing.T) (string, error) {
	t.Helper()
	var env bytes.Buffer
	for _, k := range envOrder {
		if v, ok := s.env[k]; ok {
			fmt.Fprintf(&env, "%s=%s\n", k, v)
		}
	}
	write := func(path, data string, mode os.FileMode) {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(data), mode); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(path, mode); err != nil {
			t.Fatal(err)
		}
	}
	write(s.envPath, env.String(), s.envMode)
	write(filepath.Join(s.dir, "config", "scrape-targets.json"), s.configJSON, 0o644)
	write(filepath.Join(s.dir, "docker-compose.yml"), s.compose, 0o644)
	if err := os.MkdirAll(s.home, 0o755); err != nil {
		t.Fatal(err)
	}
	if s.root != "" {
		if err := os.MkdirAll(s.root, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if s.after != nil {
		if cleanup := s.after(t, s); cleanup != nil {
			defer cleanup()
		}
	}
	io, _, out, _ := iostreams.Test()
	opts := &Options{
		IO:       io,
		Redactor: &token.Redactor{},
		Settings: func(flags map[string]string) (*settings.Settings, error) {
			return settings.Load(settings.LoadOptions{EnvFileFlag: s.envPath, WorkDir: s.dir, Flags: flags})
		},
		Getenv: func(k string) string {
			if k == "HOME" {
				return s.home
			}
			return ""
		},
		Environ:       func() []string { return []string{"PATH=/usr/bin:/bin"} },
		Executable:    func() (string, error) { return exe, nil },
		LookPath:      exec.LookPath,
		Exec:          func(_ context.Context, argv []string) (string, error) { return s.engine(argv) },
		CrontabRunner: s.crontab,
		Statfs: func(_ string, st *unix.Statfs_t) error {
			st.Bsize, st.Frsize, st.Bavail = 4096, 4096, s.freeMB*256
			return nil
		},
		RunnerName: s.runner,
		JobName:    "discord-scrape",
		NoSchedule: s.noSchedule,
	}
	err := runDoctor(context.Background(), opts)
	got := strings.ReplaceAll(out.String(), s.dir, "$DIR")
	if strings.Contains(out.String(), tok) {
		t.Errorf("doctor printed the token:\n%s", out)
	}
	return got, err
}

func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if got != string(want) {
		t.Errorf("output differs from %s:\n--- got\n%s\n--- want\n%s", path, got, want)
	}
}

func TestHealthy(t *testing.T) {
	out, err := healthy(t).run(t)
	if err != nil {
		t.Fatalf("doctor on a healthy setup: %v\n%s", err, out)
	}
	golden(t, "healthy.golden", out)
}

func TestHealthyLocalRunner(t *testing.T) {
	s := healthy(t)
	s.runner = "local"
	s.env["DCE_CLI_BIN"] = filepath.Join(s.dir, "bin", "DiscordChatExporter.Cli")
	delete(s.env, "DCE_COMPOSE_BIN")
	s.compose = "not: [valid" // not used by the local runner
	out, err := s.run(t)
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if !strings.Contains(out, "ok    dce cli       $DIR/bin/DiscordChatExporter.Cli") || strings.Contains(out, "compose") {
		t.Errorf("local runner output:\n%s", out)
	}
}

// Each broken setup fails exactly the check it breaks (and those that
// depend on it), with that check's fix.
func TestBroken(t *testing.T) {
	tests := []struct {
		name    string
		breakIt func(s *setup)
		failed  []string // names of the checks that must fail, in order
		detail  string   // in the first failure's line
		fix     string   // in the first failure's fix line
	}{
		{"env file value", func(s *setup) { s.env["DCE_MIN_FREE_MB"] = "lots" },
			[]string{CheckEnvFile, CheckCompose, CheckComposeFile, CheckToken, CheckConfig, CheckArchiveRoot, CheckDisk, CheckLock, CheckSchedule},
			"DCE_MIN_FREE_MB ($DIR/scrape.env:", "correct the line named above"},
		{"compose command missing", func(s *setup) { s.env["DCE_COMPOSE_BIN"] = "/nonexistent/podman-compose" },
			[]string{CheckCompose}, "/nonexistent/podman-compose", "install Docker with the compose plugin"},
		{"engine down", func(s *setup) {
			s.engine = func([]string) (string, error) { return "", errors.New("Cannot connect to the Docker daemon") }
		}, []string{CheckCompose}, "did not answer `docker info", "start the Docker daemon"},
		{"compose file without the service", func(s *setup) {
			s.compose = strings.Replace(s.compose, "discord-scraper:", "scraper:", 1)
		}, []string{CheckComposeFile}, `no service "discord-scraper" (it has: scraper)`, "dcehost init --force $DIR"},
		{"compose file invalid", func(s *setup) {
			s.compose = "services:\n  discord-scraper:\n    image: x\n    no_such_key: 1\n"
		}, []string{CheckComposeFile}, "no_such_key", "dcehost init --force $DIR"},
		{"compose file missing", func(s *setup) {
			s.after = func(t *testing.T, s *setup) func() { os.Remove(filepath.Join(s.dir, "docker-compose.yml")); return nil }
		}, []string{CheckComposeFile}, "does not exist", "dcehost init --force $DIR"},
		{"local runner without the DCE CLI", func(s *setup) { s.runner = "local" },
			[]string{CheckCLI}, "DCE_CLI_BIN is not set", "install DiscordChatExporter.Cli and set DCE_CLI_BIN"},
		{"no token", func(s *setup) { delete(s.env, "DISCORD_TOKEN") },
			[]string{CheckToken}, "no Discord token", "--token-file FILE"},
		{"empty token file", func(s *setup) {
			delete(s.env, "DISCORD_TOKEN")
			s.env["DISCORD_TOKEN_FILE"] = "token.txt"
			s.after = func(t *testing.T, s *setup) func() {
				os.WriteFile(filepath.Join(s.dir, "token.txt"), nil, 0o600)
				return nil
			}
		}, []string{CheckToken}, "token.txt", "token.txt"},
		{"env file with token readable by others", func(s *setup) { s.envMode = 0o644 },
			[]string{CheckToken}, "readable by others (mode 0644)", "chmod 600 $DIR/scrape.env"},
		{"discovered token file readable by others", func(s *setup) {
			delete(s.env, "DISCORD_TOKEN")
			s.after = func(t *testing.T, s *setup) func() {
				p := filepath.Join(s.home, ".config", "discord-token")
				os.MkdirAll(filepath.Dir(p), 0o700)
				os.WriteFile(p, []byte(tok+"\n"), 0o640)
				os.Chmod(p, 0o640)
				return nil
			}
		}, []string{CheckToken}, "(mode 0640)", "chmod 600 $DIR/home/.config/discord-token"},
		{"config invalid", func(s *setup) { s.configJSON = `{"archive_root": "relative/path", "targets": []}` },
			[]string{CheckComposeFile, CheckConfig, CheckArchiveRoot, CheckDisk, CheckLock}, "not checked: needs a valid config", "fix the config check first"},
		{"no target enabled", func(s *setup) {
			s.configJSON = strings.Replace(s.configJSON, `"guild_ids"`, `"enabled": false, "guild_ids"`, 1)
		}, []string{CheckConfig}, "no target is enabled", `"enabled": true`},
		{"archive root missing", func(s *setup) {
			s.after = func(t *testing.T, s *setup) func() { os.Remove(s.root); return nil }
		}, []string{CheckArchiveRoot, CheckDisk}, "$DIR/archive does not exist", "mkdir -p $DIR/archive"},
		{"low disk", func(s *setup) { s.freeMB = 100 },
			[]string{CheckDisk}, "100 MB free, 1024 MB required", "lower DCE_MIN_FREE_MB"},
		{"lock held", func(s *setup) {
			s.after = func(t *testing.T, s *setup) func() {
				l, err := lock.Acquire(lock.DefaultPath(s.root), lock.Holder{PID: 4242, Started: time.Date(2026, 6, 4, 4, 0, 0, 0, time.UTC), Cmd: "dcehost scrape"})
				if err != nil {
					t.Fatal(err)
				}
				return func() { l.Release() }
			}
		}, []string{CheckLock}, "held by pid 4242 since 2026-06-04T04:00:00Z (dcehost scrape)", "kill 4242"},
		{"no crontab", func(s *setup) { s.crontab.text = "" },
			[]string{CheckSchedule}, `no crontab block or systemd timer "discord-scrape"`, exe + " cron install --env-file $DIR/scrape.env --log-file $DIR/logs/scrape.log"},
		{"crontab runs another binary", func(s *setup) {
			s.crontab.text = "# BEGIN discord-scrape\n0 4 1 * * '/home/me/old bin/dcehost' scrape\n# END discord-scrape\n"
		}, []string{CheckSchedule}, "does not run this binary " + exe, exe + " cron install --env-file $DIR/scrape.env"},
		{"crontab schedule damaged", func(s *setup) {
			s.crontab.text = "# BEGIN discord-scrape\n61 4 1 * * " + exe + " scrape\n# END discord-scrape\n"
		}, []string{CheckSchedule}, "line 1", exe + " cron install"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := healthy(t)
			tt.breakIt(s)
			out, err := s.run(t)
			var silent *failure.SilentError
			if !errors.As(err, &silent) || silent.Code != ExitFailed {
				t.Fatalf("err = %v, want exit %d\n%s", err, ExitFailed, out)
			}
			var failedNames []string
			lines := strings.Split(out, "\n")
			first := -1
			for i, line := range lines {
				if strings.HasPrefix(line, "FAIL  ") {
					name := strings.TrimSpace(line[6:19])
					failedNames = append(failedNames, name)
					if first < 0 {
						first = i
					}
				}
			}
			if strings.Join(failedNames, ",") != strings.Join(tt.failed, ",") {
				t.Fatalf("failed checks %q, want %q\n%s", failedNames, tt.failed, out)
			}
			if !strings.Contains(lines[first], tt.detail) {
				t.Errorf("first failure %q lacks %q", lines[first], tt.detail)
			}
			fixLine := lines[first+1]
			if !strings.HasPrefix(strings.TrimSpace(fixLine), "fix: ") || !strings.Contains(fixLine, tt.fix) {
				t.Errorf("fix line %q lacks %q\n%s", fixLine, tt.fix, out)
			}
			if !strings.Contains(out, fmt.Sprintf("\n%d of ", len(tt.failed))) {
				t.Errorf("no failure count line:\n%s", out)
			}
		})
	}
}

// writeTimer installs a systemd user timer for the job, as
// `cron install --systemd` does, running binary.
func writeTimer(t *testing.T, s *setup, binary string) {
	t.Helper()
	sched, err := cron.ParseSchedule("0 4 1 * *")
	if err != nil {
		t.Fatal(err)
	}
	units, err := cron.RenderUnits("discord-scrape", sched, cron.Job{Binary: binary, EnvFile: s.envPath,
		Config: filepath.Join(s.dir, "config", "scrape-targets.json"), LogFile: filepath.Join(s.dir, "logs", "scrape.log")})
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(s.home, ".config", "systemd", "user")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for name, text := range map[string]string{"discord-scrape.timer": units.Timer, "discord-scrape.service": units.Service} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func TestSystemdTimer(t *testing.T) {
	tests := []struct {
		name, binary, state string
		ok                  bool
		detail, fix         string
	}{
		{"enabled", exe, "enabled", true, "systemd timer discord-scrape.timer: 0 4 1 * *", ""},
		{"disabled", exe, "disabled", false, "is not enabled (disabled)", "systemctl --user enable --now discord-scrape.timer"},
		{"another binary", "/home/me/old/dcehost", "enabled", false, "does not run this binary", exe + " cron install --env-file $DIR/scrape.env --log-file $DIR/logs/scrape.log --systemd"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := healthy(t)
			s.crontab.text = ""
			engine := s.engine
			s.engine = func(argv []string) (string, error) {
				if argv[0] == "systemctl" {
					if strings.Join(argv, " ") != "systemctl --user is-enabled discord-scrape.timer" {
						return "", fmt.Errorf("unexpected %q", argv)
					}
					if tt.state != "enabled" {
						return tt.state + "\n", exitError(1)
					}
					return "enabled\n", nil
				}
				return engine(argv)
			}
			s.after = func(t *testing.T, s *setup) func() { writeTimer(t, s, tt.binary); return nil }
			out, err := s.run(t)
			if (err == nil) != tt.ok {
				t.Fatalf("err = %v, want ok=%v\n%s", err, tt.ok, out)
			}
			if !strings.Contains(out, tt.detail) || (tt.fix != "" && !strings.Contains(out, "fix: "+tt.fix)) {
				t.Errorf("output lacks %q / fix %q:\n%s", tt.detail, tt.fix, out)
			}
		})
	}
}

func TestMonitoring(t *testing.T) {
	tests := []struct {
		name, url, metricsFile string
		ok                     bool
		want                   string
	}{
		{"both fine", "https://hc-ping.com/0f0e-secret", "metrics/dcehost.prom", true, "ok    monitoring    pings https://hc-ping.com/...; metrics $DIR/metrics/dcehost.prom"},
		{"bad url", "hc-ping.com/0f0e-secret", "", false, "FAIL  monitoring    DCE_HEALTHCHECK_URL ($DIR/scrape.env:4)"},
		{"missing metrics dir", "", "nowhere/dcehost.prom", false, "directory $DIR/nowhere does not exist"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := healthy(t)
			if tt.url != "" {
				s.env["DCE_HEALTHCHECK_URL"] = tt.url
			}
			if tt.metricsFile != "" {
				s.env["DCE_METRICS_FILE"] = tt.metricsFile
			}
			s.after = func(t *testing.T, s *setup) func() {
				os.MkdirAll(filepath.Join(s.dir, "metrics"), 0o755)
				return nil
			}
			out, err := s.run(t)
			if (err == nil) != tt.ok || !strings.Contains(out, tt.want) {
				t.Fatalf("err = %v, want ok=%v and %q in:\n%s", err, tt.ok, tt.want, out)
			}
			if strings.Contains(out, "0f0e-secret") {
				t.Errorf("the ping URL's secret path was printed:\n%s", out)
			}
		})
	}
	// Not configured: no monitoring line at all.
	out, err := healthy(t).run(t)
	if err != nil || strings.Contains(out, "monitoring") {
		t.Errorf("unconfigured monitoring reported: %v\n%s", err, out)
	}
}

func TestBrokenGolden(t *testing.T) {
	s := healthy(t)
	s.freeMB = 100
	s.crontab.text = ""
	out, _ := s.run(t)
	golden(t, "broken.golden", out)
}

func TestNoSchedule(t *testing.T) {
	s := healthy(t)
	s.crontab.text = ""
	s.noSchedule = true
	out, err := s.run(t)
	if err != nil || strings.Contains(out, "schedule") {
		t.Fatalf("--no-schedule: %v\n%s", err, out)
	}
}

func TestBadRunnerFlag(t *testing.T) {
	s := healthy(t)
	s.runner = "ssh"
	_, err := s.run(t)
	if !failure.IsUsage(err) {
		t.Fatalf("err = %v, want a usage error", err)
	}
}

func TestShellWords(t *testing.T) {
	got := shellWords(`A='x y' '/opt/my dir/dcehost' scrape --env-file "/a b/c" plain\ word`)
	want := []string{"A=x y", "/opt/my dir/dcehost", "scrape", "--env-file", "/a b/c", "plain word"}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("shellWords = %q, want %q", got, want)
	}
}
