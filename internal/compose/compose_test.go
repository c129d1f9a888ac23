package compose

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/dcehost/dcehost/internal/dce"
	"github.com/dcehost/dcehost/internal/failure"
	"github.com/dcehost/dcehost/internal/iostreams"
	"github.com/dcehost/dcehost/internal/progress"
	"github.com/dcehost/dcehost/internal/runner"
	"github.com/dcehost/dcehost/internal/settings"
	"github.com/dcehost/dcehost/internal/targets"
	"github.com/dcehost/dcehost/internal/token"
)

const secret = "tok-Zq81.SECRET.value"

var fakeDocker string // built fakedocker, named docker

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "fakedocker")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	fakeDocker = filepath.Join(dir, "docker")
	out, err := exec.Command("go", "build", "-o", fakeDocker, "../../testdata/fakedocker").CombinedOutput()
	if err != nil {
		fmt.Fprintf(os.Stderr, "build fakedocker: %v\n%s", err, out)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// look resolves names from a fixed table, like PATH with only these.
func look(table map[string]string) func(string) (string, error) {
	return func(name string) (string, error) {
		if p, ok := table[name]; ok {
			return p, nil
		}
		return "", exec.ErrNotFound
	}
}

func loadSettings(t *testing.T, environ ...string) *settings.Settings {
	t.Helper()
	s, err := settings.Load(settings.LoadOptions{Environ: environ, WorkDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestDetect(t *testing.T) {
	tests := []struct {
		name    string
		environ []string
		table   map[string]string
		want    []string
		usage   string // substring of the usage error; "" = success
	}{
		{"docker compose", nil,
			map[string]string{"docker": "/bin/true", "docker-compose": "/usr/bin/docker-compose"},
			[]string{"/bin/true", "compose"}, ""},
		{"plugin missing falls back to docker-compose", nil,
			map[string]string{"docker": "/bin/false", "docker-compose": "/usr/bin/docker-compose", "podman-compose": "/usr/bin/podman-compose"},
			[]string{"/usr/bin/docker-compose"}, ""},
		{"podman-compose last", nil,
			map[string]string{"podman-compose": "/usr/bin/podman-compose"},
			[]string{"/usr/bin/podman-compose"}, ""},
		{"DCE_DOCKER_BIN", []string{"DCE_DOCKER_BIN=mydocker"},
			map[string]string{"docker": "/bin/false", "mydocker": "/bin/true"},
			[]string{"/bin/true", "compose"}, ""},
		{"DCE_COMPOSE_BIN split in words", []string{"DCE_COMPOSE_BIN=podman compose"},
			map[string]string{"docker": "/bin/true", "podman": "/usr/bin/podman"},
			[]string{"/usr/bin/podman", "compose"}, ""},
		{"DCE_COMPOSE_BIN not found", []string{"DCE_COMPOSE_BIN=nerdctl compose"},
			map[string]string{"docker": "/bin/true"},
			nil, "DCE_COMPOSE_BIN"},
		{"nothing installed", nil, map[string]string{}, nil, "install Docker"},
		{"only a docker without compose", nil, map[string]string{"docker": "/bin/false"}, nil, "compose plugin"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Detect(loadSettings(t, tt.environ...), look(tt.table))
			if tt.usage != "" {
				if !failure.IsUsage(err) || !strings.Contains(err.Error(), tt.usage) {
					t.Fatalf("Detect = %v, %v; want a usage error mentioning %q", got, err, tt.usage)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Fatalf("Detect (-want +got):\n%s", diff)
			}
		})
	}
}

func TestMemory(t *testing.T) {
	one := []targets.Target{{Name: "a", ContainerMemory: "8g"}}
	two := []targets.Target{{Name: "a", ContainerMemory: "8g"}, {Name: "b", ContainerMemory: "2g"}}
	tests := []struct {
		name     string
		environ  []string
		selected []targets.Target
		want     string
		from     string
	}{
		{"variable wins over the target", []string{"DCE_CONTAINER_MEMORY=4g"}, one, "4g", "DCE_CONTAINER_MEMORY"},
		{"variable 0 means no limit, still wins", []string{"DCE_CONTAINER_MEMORY=0"}, one, "0", "DCE_CONTAINER_MEMORY"},
		{"single target", nil, one, "8g", `target "a"`},
		{"several targets: no limit", nil, two, "0", "several targets"},
		{"target without a limit", nil, []targets.Target{{Name: "a"}}, "0", "unset"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, from := Memory(loadSettings(t, tt.environ...), tt.selected)
			if got != tt.want || !strings.Contains(from, tt.from) {
				t.Fatalf("Memory = %q (%s), want %q (%s)", got, from, tt.want, tt.from)
			}
		})
	}
}

type fixture struct {
	dir, composeFile, root string
	cfg                    *targets.Config
}

func newFixture(t *testing.T) fixture {
	t.Helper()
	dir := t.TempDir()
	fx := fixture{dir: dir, composeFile: filepath.Join(dir, "docker-compose.yml"), root: filepath.Join(dir, "archive")}
	if err := os.WriteFile(fx.composeFile, []byte("services: {}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(fx.root, 0o755); err != nil {
		t.Fatal(err)
	}
	fx.cfg = &targets.Config{Path: filepath.Join(dir, "config", "scrape-targets.json"), ArchiveRoot: fx.root}
	return fx
}

func (fx fixture) request(t *testing.T, mode runner.Mode, stdoutTTY bool, environ ...string) (runner.Request, *bytes.Buffer, *bytes.Buffer) {
	t.Helper()
	s := loadSettings(t, append([]string{"DCE_COMPOSE_FILE=" + fx.composeFile}, environ...)...)
	io, _, out, errOut := iostreams.Test()
	io.SetStdoutTTY(stdoutTTY)
	tok := secret
	if !mode.NeedsToken() {
		tok = ""
	}
	return runner.Request{
		Mode: mode, Settings: s, Config: fx.cfg,
		Targets:   []targets.Target{{Name: "myserver", ContainerMemory: "8g"}},
		Selection: targets.Selection{Targets: []string{"myserver"}, Channels: []string{"42"}},
		Token:     tok, Parallel: 3, IO: io,
	}, out, errOut
}

func testRunner(dockerPath string) *Runner {
	return &Runner{
		Executable: func() (string, error) { return "/opt/dcehost/bin/dcehost", nil },
		LookPath:   look(map[string]string{"docker": dockerPath}),
		Redactor:   redactor(),
	}
}

func redactor() *token.Redactor {
	r := &token.Redactor{}
	r.Add(secret)
	return r
}

func TestPlan(t *testing.T) {
	fx := newFixture(t)
	summaryOutside := filepath.Join(fx.dir, "logs", "summary.json")
	summaryInside := filepath.Join(fx.root, "summary.json")
	base := func(extra ...string) []string {
		return append([]string{"/bin/true", "compose", "-f", fx.composeFile, "run", "--rm"}, extra...)
	}
	inner := []string{"--runner", "local", "--no-lock", "--no-retry", "--config", fx.cfg.Path, "--target", "myserver", "--channel", "42", "--parallel", "3"}
	tests := []struct {
		name      string
		mode      runner.Mode
		tty       bool
		environ   []string
		summary   string
		format    string
		wantArgv  []string
		wantEnv   []string // must be present
		wantNoTTY bool
	}{
		{"cron: stdout not a terminal gives -T", runner.Scrape, false, nil, "", "",
			append(base("-T", Service, "scrape"), inner...),
			[]string{"DCE_CONTAINER_MEMORY=8g", "DISCORD_TOKEN=" + secret}, true},
		{"terminal: no -T", runner.Scrape, true, nil, "", "",
			append(base(Service, "scrape"), inner...), nil, false},
		{"DCE_COMPOSE_TTY=0 forces -T on a terminal", runner.Scrape, true, []string{"DCE_COMPOSE_TTY=0"}, "", "",
			append(base("-T", Service, "scrape"), inner...), nil, true},
		{"memory variable beats the target", runner.Scrape, false, []string{"DCE_CONTAINER_MEMORY=2g"}, "", "",
			append(base("-T", Service, "scrape"), inner...), []string{"DCE_CONTAINER_MEMORY=2g"}, true},
		{"preflight takes no lock", runner.Preflight, false, nil, "", "",
			append(base("-T", Service, "preflight", "--runner", "local", "--no-retry", "--config", fx.cfg.Path), inner[6:]...), nil, true},
		{"salvage: empty token, no retry to disable", runner.Salvage, false, nil, "", "",
			append(base("-T", Service, "salvage", "--runner", "local", "--no-lock"), inner[4:]...), []string{"DISCORD_TOKEN="}, true},
		{"summary outside the archive root is mounted", runner.Scrape, false, nil, summaryOutside, "",
			append(append(base("-T", "-v", filepath.Dir(summaryOutside)+":"+filepath.Dir(summaryOutside), Service, "scrape"), inner...), "--summary-file", summaryOutside), nil, true},
		{"summary inside the archive root needs no mount", runner.Scrape, false, nil, summaryInside, "",
			append(append(base("-T", Service, "scrape"), inner...), "--summary-file", summaryInside), nil, true},
		{"json logs and settings passed on", runner.Scrape, false, []string{"DCE_UID=1001", "DCE_GID=1002", "DCE_USERNS_MODE=keep-id", "TZ=Europe/Paris", "DCE_MIN_FREE_MB=0", "DCE_IMAGE_TAG=2.46"}, "", "json",
			append(base("-T", Service, "--log-format", "json", "scrape"), inner...),
			[]string{"DCE_UID=1001", "DCE_GID=1002", "DCE_USERNS_MODE=keep-id", "TZ=Europe/Paris", "DCE_MIN_FREE_MB=0", "DCE_IMAGE_TAG=2.46",
				"DCEHOST_BIN=/opt/dcehost/bin/dcehost", "DCE_CONFIG_FILE=" + fx.cfg.Path, "DCE_ARCHIVE_ROOT=" + fx.root}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, _, _ := fx.request(t, tt.mode, tt.tty, tt.environ...)
			req.SummaryFile = tt.summary
			r := testRunner("/bin/true")
			r.LogFormat = tt.format
			p, err := r.Plan(req)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.wantArgv, p.Argv); diff != "" {
				t.Errorf("argv (-want +got):\n%s", diff)
			}
			for _, kv := range tt.wantEnv {
				if !slices.Contains(p.Env, kv) {
					t.Errorf("env %q missing from %q", kv, p.Env)
				}
			}
			if p.TTY == tt.wantNoTTY {
				t.Errorf("TTY = %v", p.TTY)
			}
			for _, a := range p.Argv {
				if strings.Contains(a, secret) {
					t.Fatalf("token in argv: %q", p.Argv)
				}
			}
			line := p.CommandLine()
			if strings.Contains(line, secret) {
				t.Fatalf("token in the command line: %s", line)
			}
			if tt.mode.NeedsToken() && !strings.Contains(line, "DISCORD_TOKEN=***") {
				t.Fatalf("command line does not show the masked token: %s", line)
			}
			argv, env, err := r.Command(req)
			if err != nil || !slices.Equal(argv, p.Argv) || !slices.Equal(env, p.Env) {
				t.Fatalf("Command = %q, %q, %v; want the plan's", argv, env, err)
			}
		})
	}
}

func TestPlanMissingComposeFile(t *testing.T) {
	fx := newFixture(t)
	req, _, _ := fx.request(t, runner.Scrape, false)
	if err := os.Remove(fx.composeFile); err != nil {
		t.Fatal(err)
	}
	err := testRunner("/bin/true").Prepare(req)
	if !failure.IsUsage(err) || !strings.Contains(err.Error(), fx.composeFile) {
		t.Fatalf("Prepare = %v, want a usage error naming %s", err, fx.composeFile)
	}
}

type invocation struct {
	Argv []string          `json:"argv"`
	Env  map[string]string `json:"env"`
	Kind string            `json:"kind"`
}

func readLog(t *testing.T, path string) []invocation {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var runs []invocation
	for _, l := range strings.Split(strings.TrimSpace(string(data)), "\n") {
		var inv invocation
		if err := json.Unmarshal([]byte(l), &inv); err != nil {
			t.Fatal(err)
		}
		if inv.Kind == "run" {
			runs = append(runs, inv)
		}
	}
	return runs
}

// script writes a fakedocker script and returns the environment that
// points the fake at it.
func script(t *testing.T, dir, steps string) (environ []string, logPath string) {
	t.Helper()
	logPath = filepath.Join(dir, "fakedocker.log")
	scriptPath := filepath.Join(dir, "script.json")
	if err := os.WriteFile(scriptPath, []byte(steps), 0o644); err != nil {
		t.Fatal(err)
	}
	return append(os.Environ(), "FAKEDOCKER_LOG="+logPath, "FAKEDOCKER_SCRIPT="+scriptPath), logPath
}

func TestRunExitStatus(t *testing.T) {
	tests := []struct {
		name  string
		steps string
		check func(error) bool
		want  string
	}{
		{"success", `[{"exit":0}]`, func(err error) bool { return err == nil }, "nil"},
		{"exit 4 is an auth error", `[{"exit":4}]`, func(err error) bool {
			var a *dce.AuthError
			return errors.As(err, &a)
		}, "*dce.AuthError"},
		{"exit 7 passes through", `[{"exit":7}]`, func(err error) bool {
			var e *ExitError
			return errors.As(err, &e) && e.Code == 7
		}, "*ExitError{7}"},
		{"exit 1 with 401 and 403 in the output is not an auth error", `[{"lines":[{"stream":"stderr","text":"channel 401403 failed: 403 messages, 401 left"}],"exit":1}]`, func(err error) bool {
			var e *ExitError
			var a *dce.AuthError
			return errors.As(err, &e) && e.Code == 1 && !errors.As(err, &a)
		}, "*ExitError{1}"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fx := newFixture(t)
			environ, logPath := script(t, fx.dir, tt.steps)
			req, _, _ := fx.request(t, runner.Scrape, false)
			r := testRunner(fakeDocker)
			r.Environ = func() []string { return environ }
			err := r.Run(context.Background(), req)
			if !tt.check(err) {
				t.Fatalf("Run = %v, want %s", err, tt.want)
			}
			runs := readLog(t, logPath)
			if len(runs) != 1 {
				t.Fatalf("%d runs, want 1", len(runs))
			}
			if runs[0].Env["DISCORD_TOKEN"] != secret {
				t.Fatalf("the token did not reach the child's environment")
			}
			for _, a := range runs[0].Argv {
				if strings.Contains(a, secret) {
					t.Fatalf("token in argv %q", runs[0].Argv)
				}
			}
		})
	}
}

// lineWriter reports each line written to it on a channel.
type lineWriter struct {
	mu    sync.Mutex
	buf   bytes.Buffer
	lines chan string
}

func (w *lineWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.buf.Write(p)
	for {
		line, err := w.buf.ReadString('\n')
		if err != nil {
			w.buf.WriteString(line)
			return len(p), nil
		}
		w.lines <- strings.TrimSuffix(line, "\n")
	}
}

func TestRunStreamsOutputWhileTheChildRuns(t *testing.T) {
	fx := newFixture(t)
	release := filepath.Join(fx.dir, "release")
	// The child prints one line, then waits until the test has seen that
	// line and created the release file. Without live streaming the test
	// never sees the line and the child gives up (exit 124).
	steps := fmt.Sprintf(`[{"lines":[
		{"stream":"stderr","text":"level=INFO msg=\"exporting\" token=%s"},
		{"stream":"stdout","text":"first stdout line","wait_for":%q},
		{"stream":"stderr","text":"done\r"}],"exit":0}]`, secret, release)
	environ, _ := script(t, fx.dir, steps)
	req, out, _ := fx.request(t, runner.Scrape, false)
	errLines := &lineWriter{lines: make(chan string, 10)}
	req.IO.ErrOut = errLines
	r := testRunner(fakeDocker)
	r.Environ = func() []string { return environ }

	done := make(chan error, 1)
	go func() { done <- r.Run(context.Background(), req) }()
	first := <-errLines.lines
	if want := `level=INFO msg="exporting" token=***`; first != want {
		t.Fatalf("first line = %q, want %q (redacted)", first, want)
	}
	if err := os.WriteFile(release, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatalf("Run = %v", err)
	}
	if last := <-errLines.lines; last != "done" {
		t.Fatalf("last line = %q, want \"done\" without the CR", last)
	}
	if out.String() != "first stdout line\n" {
		t.Fatalf("stdout = %q", out.String())
	}
}

func TestRunLongLine(t *testing.T) {
	fx := newFixture(t)
	long := strings.Repeat("x", 200_000)
	environ, _ := script(t, fx.dir, fmt.Sprintf(`[{"lines":[{"stream":"stdout","text":%q}]}]`, long))
	req, out, _ := fx.request(t, runner.Scrape, false)
	r := testRunner(fakeDocker)
	r.Environ = func() []string { return environ }
	if err := r.Run(context.Background(), req); err != nil {
		t.Fatal(err)
	}
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil && err != io.EOF || line != long+"\n" {
		t.Fatalf("long line came through as %d bytes", len(line))
	}
}

func TestCopyLinesFeedsTheStatusLine(t *testing.T) {
	var term strings.Builder
	rep := progress.New(&term, true, nil)
	rep.AddTotal(3)
	var out strings.Builder
	var mu sync.Mutex
	inner := "time=2026-06-04T12:00:00Z level=INFO msg=\"channel done\" channel=general n=1 of=3 appended=4 appended_total=4\n" +
		"some other line\n"
	(&Runner{}).copyLines(&mu, &out, strings.NewReader(inner), rep)
	if out.String() != inner {
		t.Fatalf("copied %q, want %q", out.String(), inner)
	}
	if done, total, appended := rep.Counts(); done != 1 || total != 3 || appended != 4 {
		t.Fatalf("status after the inner line: %d/%d, %d appended", done, total, appended)
	}
}
