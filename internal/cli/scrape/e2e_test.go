package scrape_test

// End-to-end tests: a dcehost binary built from ./cmd/dcehost (so exit
// codes come from main's one table) runs against testdata/fakedocker on
// PATH as `docker`, which records every invocation (argv and environment)
// and plays scripted container outcomes.

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
)

var (
	dcehostBin string // built ./cmd/dcehost
	fakeBinDir string // holds the fake `docker`
	repoRoot   string
)

const (
	staleToken = "tok-STALE.aaaa.Zq81stale"
	freshToken = "tok-FRESH.bbbb.Zq81fresh"
	guildA     = "111111111111111111"
	guildB     = "222222222222222222"
)

func TestMain(m *testing.M) {
	code, err := setup(m)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	os.Exit(code)
}

func setup(m *testing.M) (int, error) {
	var err error
	if repoRoot, err = filepath.Abs("../../.."); err != nil {
		return 0, err
	}
	if buildDir, err = os.MkdirTemp("", "scrape-e2e"); err != nil {
		return 0, err
	}
	defer os.RemoveAll(buildDir)
	return m.Run(), nil
}

var (
	buildDir  string
	buildOnce sync.Once
	buildErr  error
)

// binaries builds dcehost and the fake docker once, for the tests that
// need them.
func binaries(t *testing.T) {
	t.Helper()
	buildOnce.Do(func() {
		dcehostBin = filepath.Join(buildDir, "dcehost")
		fakeBinDir = filepath.Join(buildDir, "fakebin")
		for _, b := range []struct{ out, pkg string }{
			{dcehostBin, "./cmd/dcehost"},
			{filepath.Join(fakeBinDir, "docker"), "./testdata/fakedocker"},
			{filepath.Join(buildDir, "dce", "DiscordChatExporter.Cli"), "./testdata/fakedce"},
		} {
			cmd := exec.Command("go", "build", "-o", b.out, b.pkg)
			cmd.Dir = repoRoot
			if out, err := cmd.CombinedOutput(); err != nil {
				buildErr = fmt.Errorf("go build %s: %v\n%s", b.pkg, err, out)
				return
			}
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
}

// env is one test's world: an archive root with two targets, a config, an
// env file, a token file, and the fake docker's log and script.
type env struct {
	t         *testing.T
	dir       string // everything dcehost may read or write
	root      string // archive root
	config    string
	envFile   string
	tokenFile string
	fakeLog   string // outside dir, so snapshots of dir ignore it
	script    string // fakedocker's script, outside dir
	environ   []string
}

func newEnv(t *testing.T) *env {
	t.Helper()
	binaries(t)
	dir := t.TempDir()
	e := &env{
		t: t, dir: dir,
		root:      filepath.Join(dir, "archive"),
		config:    filepath.Join(dir, "config", "scrape-targets.json"),
		envFile:   filepath.Join(dir, "scrape.env"),
		tokenFile: filepath.Join(dir, ".discord-token"),
	}
	// The fake's files live outside dir: they hold tokens on purpose.
	fakeDir := t.TempDir()
	e.fakeLog, e.script = filepath.Join(fakeDir, "fakedocker.log"), filepath.Join(fakeDir, "script.json")
	for _, d := range []string{filepath.Join(e.root, "myserver"), filepath.Join(e.root, "other"), filepath.Join(dir, "config"), filepath.Join(dir, "home")} {
		mkdir(t, d)
	}
	e.writeConfig(fmt.Sprintf(`{
  "archive_root": %q,
  "targets": [
    {"name": "myserver", "output_dir": %q, "guild_ids": [%q], "container_memory": "8g"},
    {"name": "other", "output_dir": %q, "guild_ids": [%q]}
  ]
}`, e.root, filepath.Join(e.root, "myserver"), guildA, filepath.Join(e.root, "other"), guildB))
	write(t, e.tokenFile, staleToken+"\n", 0o600)
	e.writeEnvFile("")
	e.setScript(`[{"exit": 0}]`)
	e.environ = []string{
		"PATH=" + fakeBinDir + ":/usr/bin:/bin",
		"HOME=" + filepath.Join(dir, "home"),
		"FAKEDOCKER_LOG=" + e.fakeLog,
		"FAKEDOCKER_SCRIPT=" + e.script,
	}
	return e
}

func mkdir(t *testing.T, d string) {
	t.Helper()
	if err := os.MkdirAll(d, 0o755); err != nil {
		t.Fatal(err)
	}
}

func write(t *testing.T, path, content string, mode fs.FileMode) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), mode); err != nil {
		t.Fatal(err)
	}
}

func (e *env) writeConfig(content string) { write(e.t, e.config, content, 0o644) }

// writeEnvFile writes scrape.env: the test defaults plus extra lines.
func (e *env) writeEnvFile(extra string) {
	write(e.t, e.envFile, fmt.Sprintf(`# test env file
DISCORD_TOKEN_FILE=.discord-token
DCE_CONFIG_FILE=config/scrape-targets.json
DCE_COMPOSE_FILE=%s
DCE_MIN_FREE_MB=1
%s`, filepath.Join(repoRoot, "docker-compose.yml"), extra), 0o644)
}

func (e *env) setScript(steps string) { write(e.t, e.script, steps, 0o644) }

type result struct {
	code           int
	stdout, stderr string
}

func (e *env) command(extraEnv []string, args ...string) *exec.Cmd {
	cmd := exec.Command(dcehostBin, append([]string{"--env-file", e.envFile}, args...)...)
	cmd.Dir = e.dir
	cmd.Env = append(slices.Clone(e.environ), extraEnv...)
	return cmd
}

// run runs dcehost to completion with stdin/stdout/stderr not terminals.
func (e *env) run(extraEnv []string, args ...string) result {
	e.t.Helper()
	cmd := e.command(extraEnv, args...)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	if _, ok := err.(*exec.ExitError); err != nil && !ok {
		e.t.Fatalf("run dcehost: %v", err)
	}
	return result{cmd.ProcessState.ExitCode(), out.String(), errOut.String()}
}

type invocation struct {
	Argv []string          `json:"argv"`
	Env  map[string]string `json:"env"`
	Kind string            `json:"kind"`
}

// runs returns the fake's `compose run` invocations.
func (e *env) runs() []invocation {
	e.t.Helper()
	data, err := os.ReadFile(e.fakeLog)
	if os.IsNotExist(err) {
		return nil
	}
	if err != nil {
		e.t.Fatal(err)
	}
	var runs []invocation
	for _, l := range strings.Split(strings.TrimSpace(string(data)), "\n") {
		var inv invocation
		if err := json.Unmarshal([]byte(l), &inv); err != nil {
			e.t.Fatalf("fake log line %q: %v", l, err)
		}
		if inv.Kind == "run" {
			runs = append(runs, inv)
		}
	}
	return runs
}

// snapshot records every file and directory under dir with its mode and
// content hash.
func snapshot(t *testing.T, dir string) map[string]string {
	t.Helper()
	snap := map[string]string{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		entry := info.Mode().String()
		if info.Mode().IsRegular() {
			data, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			entry += fmt.Sprintf(" %x", sha256.Sum256(data))
		}
		snap[p] = entry
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return snap
}

func (r result) String() string {
	return fmt.Sprintf("exit %d\nstdout:\n%s\nstderr:\n%s", r.code, r.stdout, r.stderr)
}

func TestEnvFileIsNotExecuted(t *testing.T) {
	e := newEnv(t)
	marker := filepath.Join(e.dir, "marker")
	e.writeEnvFile(fmt.Sprintf("X=$(touch %s)\nY=`touch %s`\nexport Z=\"$(touch %s)\"\n", marker, marker, marker))
	for _, args := range [][]string{{"scrape", "--dry-run"}, {"scrape"}} {
		r := e.run(nil, args...)
		if r.code != 0 {
			t.Fatalf("%q: %s", args, r)
		}
		if _, err := os.Stat(marker); !os.IsNotExist(err) {
			t.Fatalf("%q: the env file was executed: %s exists", args, marker)
		}
	}
}

func TestStaleTokenFileReloadedAndRetriedOnce(t *testing.T) {
	e := newEnv(t)
	// The container rejects every token but the fresh one; during the
	// first run the token file is refreshed (as a login helper would).
	e.setScript(fmt.Sprintf(`[{"rewrite": {"path": %q, "content": %q}, "accept_tokens": [%q]}]`,
		e.tokenFile, freshToken+"\n", freshToken))
	r := e.run(nil, "scrape")
	if r.code != 0 {
		t.Fatalf("want exit 0 after one retry: %s", r)
	}
	runs := e.runs()
	if len(runs) != 2 {
		t.Fatalf("%d runs, want exactly 2", len(runs))
	}
	if got := []string{runs[0].Env["DISCORD_TOKEN"], runs[1].Env["DISCORD_TOKEN"]}; !slices.Equal(got, []string{staleToken, freshToken}) {
		t.Fatalf("tokens of the runs = %q (redacted here would hide a bug), want stale then fresh", got)
	}
	if !strings.Contains(r.stderr, "retrying once") {
		t.Fatalf("no retry notice in the log: %s", r)
	}
}

func TestPersistentAuthFailure(t *testing.T) {
	e := newEnv(t)
	e.setScript(`[{"accept_tokens": ["never-this-one"]}]`)
	r := e.run(nil, "scrape")
	if r.code != 4 {
		t.Fatalf("want exit 4: %s", r)
	}
	if n := len(e.runs()); n != 2 {
		t.Fatalf("%d runs, want exactly 2", n)
	}
	for _, want := range []string{"DISCORD_TOKEN_FILE=" + e.tokenFile, "rejected", "write the new token"} {
		if !strings.Contains(r.stderr, want) {
			t.Errorf("error does not mention %q: %s", want, r)
		}
	}
}

func TestNonAuthFailuresAreNotRetried(t *testing.T) {
	tests := []struct {
		name     string
		steps    string
		wantCode int
	}{
		{"exit 1 with 401 and 403 in the output", `[{"lines": [
			{"stream": "stdout", "text": "Exporting channel 401403401403401403: 403 messages"},
			{"stream": "stderr", "text": "Request failed: 401 Unauthorized, 403 Forbidden (text only)"}], "exit": 1}, {"exit": 0}]`, 1},
		{"channels failed passes through", `[{"exit": 7}, {"exit": 0}]`, 7},
		{"disk full inside passes through", `[{"exit": 5}, {"exit": 0}]`, 5},
		{"killed container is a failure", `[{"exit": 137}, {"exit": 0}]`, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			e.setScript(tt.steps)
			r := e.run(nil, "scrape")
			if r.code != tt.wantCode {
				t.Fatalf("want exit %d: %s", tt.wantCode, r)
			}
			if n := len(e.runs()); n != 1 {
				t.Fatalf("%d runs, want 1 (no retry)", n)
			}
		})
	}
}

func TestComposeCommand(t *testing.T) {
	tests := []struct {
		name       string
		envLines   string
		extraEnv   []string
		args       []string
		wantArgs   []string // contiguous in argv
		wantMemory string
	}{
		{"stdout not a terminal gives -T", "", nil, []string{"scrape", "--target", "myserver"},
			[]string{"run", "--rm", "-T", "discord-scraper", "scrape", "--runner", "local", "--no-lock", "--no-retry"}, "8g"},
		{"DCE_COMPOSE_TTY=0 gives -T", "DCE_COMPOSE_TTY=0\n", nil, []string{"scrape", "--target", "myserver"},
			[]string{"run", "--rm", "-T", "discord-scraper"}, "8g"},
		{"env file memory beats the target", "DCE_CONTAINER_MEMORY=2g\n", nil, []string{"scrape", "--target", "myserver"},
			[]string{"--target", "myserver"}, "2g"},
		{"process environment beats the env file", "DCE_CONTAINER_MEMORY=2g\n", []string{"DCE_CONTAINER_MEMORY=3g"}, []string{"scrape", "--target", "myserver"},
			[]string{"--target", "myserver"}, "3g"},
		{"several targets: no limit", "", nil, []string{"scrape"},
			[]string{"discord-scraper", "scrape"}, "0"},
		{"selection and options passed on", "", nil, []string{"scrape", "--target", "myserver", "--guild", guildA, "--channel", "333333333333333333", "--parallel", "2"},
			[]string{"--target", "myserver", "--guild", guildA, "--channel", "333333333333333333", "--parallel", "2"}, "8g"},
		{"salvage: no token needed", "", nil, []string{"salvage", "--target", "other"},
			[]string{"discord-scraper", "salvage", "--runner", "local", "--no-lock"}, "0"},
		{"preflight: no lock to pass on", "", nil, []string{"preflight", "--target", "other"},
			[]string{"discord-scraper", "preflight", "--runner", "local", "--no-retry", "--config"}, "0"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			e.writeEnvFile(tt.envLines)
			r := e.run(tt.extraEnv, tt.args...)
			if r.code != 0 {
				t.Fatalf("%s", r)
			}
			runs := e.runs()
			if len(runs) != 1 {
				t.Fatalf("%d runs, want 1", len(runs))
			}
			argv := runs[0].Argv
			if !containsRun(argv, tt.wantArgs) {
				t.Errorf("argv %q does not contain %q", argv, tt.wantArgs)
			}
			if got := runs[0].Env["DCE_CONTAINER_MEMORY"]; got != tt.wantMemory {
				t.Errorf("DCE_CONTAINER_MEMORY = %q, want %q", got, tt.wantMemory)
			}
			if got := runs[0].Env["DCE_ARCHIVE_ROOT"]; got != e.root {
				t.Errorf("DCE_ARCHIVE_ROOT = %q, want %q", got, e.root)
			}
			if got := runs[0].Env["DCE_CONFIG_FILE"]; got != e.config {
				t.Errorf("DCE_CONFIG_FILE = %q, want %q", got, e.config)
			}
			if got := runs[0].Env["DCEHOST_BIN"]; got != dcehostBin {
				t.Errorf("DCEHOST_BIN = %q, want %q", got, dcehostBin)
			}
			wantToken := staleToken
			if tt.args[0] == "salvage" {
				wantToken = ""
			}
			if got := runs[0].Env["DISCORD_TOKEN"]; got != wantToken {
				t.Errorf("DISCORD_TOKEN in the child's environment = %q, want %q", got, wantToken)
			}
			if tt.args[0] == "preflight" && slices.Contains(argv, "--no-lock") {
				t.Errorf("preflight given --no-lock: %q", argv)
			}
			if _, err := os.Stat(filepath.Join(e.root, ".dce-scrape.lock.meta")); !os.IsNotExist(err) {
				t.Errorf("holder file left behind: %v", err)
			}
		})
	}
}

func containsRun(argv, want []string) bool {
	for i := range argv {
		if i+len(want) <= len(argv) && slices.Equal(argv[i:i+len(want)], want) {
			return true
		}
	}
	return false
}

// startBlocked starts a scrape whose container prints "container started"
// and then waits until release exists. It returns once that line has come
// through dcehost's standard error, which proves the output is streamed
// while the child runs.
func (e *env) startBlocked(release string) (*exec.Cmd, func() string) {
	e.t.Helper()
	cmd := e.command(nil, "scrape", "--target", "myserver")
	stderr, err := cmd.StderrPipe()
	if err != nil {
		e.t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		e.t.Fatal(err)
	}
	e.t.Cleanup(func() {
		_ = os.WriteFile(release, nil, 0o644)
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})
	var seen bytes.Buffer
	br := bufio.NewReader(stderr)
	for {
		line, err := br.ReadString('\n')
		seen.WriteString(line)
		if strings.TrimSpace(line) == "container started" {
			break
		}
		if err != nil {
			e.t.Fatalf("dcehost ended before the container's first line came through:\n%s", seen.String())
		}
	}
	rest := make(chan string, 1)
	go func() {
		b, _ := io.ReadAll(br)
		rest <- seen.String() + string(b)
	}()
	return cmd, func() string { return <-rest }
}

func TestOutputStreamedBeforeTheChildExits(t *testing.T) {
	e := newEnv(t)
	release := filepath.Join(t.TempDir(), "release")
	e.setScript(fmt.Sprintf(`[{"lines": [
		{"stream": "stderr", "text": "container started"},
		{"stream": "stderr", "text": "container finished", "wait_for": %q}]}]`, release))
	cmd, rest := e.startBlocked(release)
	// The child is still waiting for release: create it now.
	write(t, release, "", 0o644)
	out := rest()
	if err := cmd.Wait(); err != nil {
		t.Fatalf("dcehost: %v\n%s", err, out)
	}
	if !strings.Contains(out, "container finished") {
		t.Fatalf("last line missing:\n%s", out)
	}
}

func TestLockHeldByAnotherRun(t *testing.T) {
	e := newEnv(t)
	release := filepath.Join(t.TempDir(), "release")
	e.setScript(fmt.Sprintf(`[
		{"lines": [{"stream": "stderr", "text": "container started"},
		           {"stream": "stderr", "text": "released", "wait_for": %q}]},
		{"exit": 0}]`, release))
	holder, _ := e.startBlocked(release)
	before := snapshot(t, e.dir)

	r := e.run(nil, "scrape", "--target", "other")
	if r.code != 3 {
		t.Fatalf("want exit 3 while the lock is held: %s", r)
	}
	if want := "pid " + strconv.Itoa(holder.Process.Pid); !strings.Contains(r.stderr, want) {
		t.Fatalf("error does not name the holder (%s): %s", want, r)
	}
	if !strings.Contains(r.stderr, "scrape --target myserver") {
		t.Fatalf("error does not show the holder's command: %s", r)
	}
	if n := len(e.runs()); n != 1 {
		t.Fatalf("%d container runs, want only the holder's", n)
	}
	if diff := diffSnapshots(before, snapshot(t, e.dir)); diff != "" {
		t.Fatalf("the refused run changed files:\n%s", diff)
	}

	// preflight takes no lock and runs while a scrape holds it.
	if r := e.run(nil, "preflight", "--target", "other"); r.code != 0 {
		t.Fatalf("preflight while locked: %s", r)
	}

	// SIGKILL: the holder cannot clean up; the kernel frees the lock.
	if err := holder.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = holder.Wait()
	write(t, release, "", 0o644) // let the orphaned fake container go
	r = e.run(nil, "scrape", "--target", "other")
	if r.code != 0 {
		t.Fatalf("want exit 0 once the holder is gone: %s", r)
	}
}

func diffSnapshots(before, after map[string]string) string {
	var b strings.Builder
	for p, v := range after {
		if w, ok := before[p]; !ok {
			fmt.Fprintf(&b, "created %s\n", p)
		} else if w != v {
			fmt.Fprintf(&b, "changed %s\n", p)
		}
	}
	for p := range before {
		if _, ok := after[p]; !ok {
			fmt.Fprintf(&b, "removed %s\n", p)
		}
	}
	return b.String()
}

func TestNotEnoughDiskSpace(t *testing.T) {
	e := newEnv(t)
	e.writeEnvFile("DCE_MIN_FREE_MB=1099511627776\n") // an exbibyte
	before := snapshot(t, e.dir)
	r := e.run(nil, "scrape")
	if r.code != 5 {
		t.Fatalf("want exit 5: %s", r)
	}
	for _, want := range []string{e.root, "MB free", "1099511627776 MB required"} {
		if !strings.Contains(r.stderr, want) {
			t.Errorf("error does not mention %q: %s", want, r)
		}
	}
	if n := len(e.runs()); n != 0 {
		t.Fatalf("%d container runs, want none", n)
	}
	if diff := diffSnapshots(before, snapshot(t, e.dir)); diff != "" {
		t.Fatalf("files changed:\n%s", diff)
	}
}

func TestDryRun(t *testing.T) {
	e := newEnv(t)
	before := snapshot(t, e.dir)
	logFile := filepath.Join(e.dir, "logs-not-created.log")
	r := e.run(nil, "scrape", "--target", "myserver", "--dry-run", "--log-file", logFile)
	if r.code != 0 {
		t.Fatalf("%s", r)
	}
	for _, want := range []string{
		"myserver (guild) -> " + filepath.Join(e.root, "myserver"),
		"memory limit:  8g",
		"DISCORD_TOKEN=***",
		"run --rm -T discord-scraper scrape --runner local --no-lock --no-retry --config " + e.config + " --target myserver",
		"DISCORD_TOKEN_FILE=" + e.tokenFile,
		filepath.Join(e.root, ".dce-scrape.lock"),
	} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("dry run output lacks %q:\n%s", want, r.stdout)
		}
	}
	if n := len(e.runs()); n != 0 {
		t.Fatalf("dry run started %d container runs", n)
	}
	if diff := diffSnapshots(before, snapshot(t, e.dir)); diff != "" {
		t.Fatalf("dry run changed files:\n%s", diff)
	}
}

func TestTokenNeverLeaks(t *testing.T) {
	e := newEnv(t)
	logFile := filepath.Join(e.dir, "logs", "scrape.log")
	mkdir(t, filepath.Dir(logFile))
	var captured []string
	// The container echoes the token it was given (a worst case): the
	// host must mask it in everything it prints or logs.
	echo := `"lines": [{"stream": "stdout", "text": "token is ${DISCORD_TOKEN}"}, {"stream": "stderr", "text": "level=INFO msg=x token=${DISCORD_TOKEN}"}]`
	e.setScript(fmt.Sprintf(`[
		{%s, "rewrite": {"path": %q, "content": %q}, "accept_tokens": [%q]},
		{%s, "accept_tokens": ["nothing-valid"]}]`, echo, e.tokenFile, freshToken+"\n", freshToken, echo))
	for _, args := range [][]string{
		{"scrape", "--dry-run"},
		{"scrape", "--log-file", logFile, "--target", "myserver"}, // stale -> 4, reload, fresh -> ok
		{"--log-format", "json", "scrape", "--log-file", logFile}, // rejected twice -> 4
		{"-v", "preflight", "--log-file", logFile, "--dry-run"},
	} {
		r := e.run(nil, args...)
		captured = append(captured, r.stdout, r.stderr)
	}
	data, err := os.ReadFile(logFile)
	if err != nil {
		t.Fatal(err)
	}
	captured = append(captured, string(data))
	runs := e.runs()
	if len(runs) != 4 {
		t.Fatalf("%d container runs, want 4", len(runs))
	}
	for _, inv := range runs {
		captured = append(captured, strings.Join(inv.Argv, " "))
	}
	// Positive control: the token did reach the container, via env.
	if runs[1].Env["DISCORD_TOKEN"] != freshToken {
		t.Fatalf("the fresh token did not reach the container's environment")
	}
	if !strings.Contains(string(data), "token is ***") {
		t.Fatalf("the log file lacks the container's (masked) output:\n%s", data)
	}
	// Every file dcehost may have written (log, lock holder, ...), but the
	// token file itself.
	err = filepath.WalkDir(e.dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || p == e.tokenFile {
			return err
		}
		data, err := os.ReadFile(p)
		captured = append(captured, p+":\n"+string(data))
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	for i, text := range captured {
		for _, tok := range []string{staleToken, freshToken} {
			if strings.Contains(text, tok) {
				t.Errorf("output %d contains a token:\n%s", i, text)
			}
		}
	}
}

func TestBadInputExits2AndWritesNothing(t *testing.T) {
	configWith := func(targetsJSON string) func(e *env) {
		return func(e *env) {
			e.writeConfig(fmt.Sprintf(`{"archive_root": %q, "targets": [%s]}`, e.root, targetsJSON))
		}
	}
	target := func(name, out string) string {
		return fmt.Sprintf(`{"name": %q, "output_dir": %q, "guild_ids": [%q]}`, name, out, guildA)
	}
	tests := []struct {
		name     string
		setup    func(e *env)
		extraEnv []string
		args     []string
		want     string // in the error
	}{
		{"malformed env file line", func(e *env) { e.writeEnvFile("this is not an assignment\n") }, nil,
			[]string{"scrape"}, "scrape.env:6"},
		{"DCE_COMPOSE_TTY=maybe", func(e *env) { e.writeEnvFile("DCE_COMPOSE_TTY=maybe\n") }, nil,
			[]string{"scrape"}, "DCE_COMPOSE_TTY"},
		{"DCE_MIN_FREE_MB=-x", func(e *env) { e.writeEnvFile("DCE_MIN_FREE_MB=-x\n") }, nil,
			[]string{"scrape"}, "DCE_MIN_FREE_MB"},
		{"DCE_CONTAINER_MEMORY=lots", nil, []string{"DCE_CONTAINER_MEMORY=lots"},
			[]string{"scrape"}, "DCE_CONTAINER_MEMORY"},
		{"missing token file", func(e *env) { os.Remove(e.tokenFile) }, nil,
			[]string{"scrape"}, "DISCORD_TOKEN_FILE"},
		{"unreadable token file", func(e *env) { os.Remove(e.tokenFile); mkdir(e.t, e.tokenFile) }, nil,
			[]string{"scrape"}, "DISCORD_TOKEN_FILE"},
		{"empty token file", func(e *env) { write(e.t, e.tokenFile, "\n", 0o600) }, nil,
			[]string{"scrape"}, "empty"},
		{"missing config", nil, nil,
			[]string{"scrape", "--config", "no-such-config.json"}, "no-such-config.json"},
		{"config is not JSON", func(e *env) { e.writeConfig("archive_root = /x\n") }, nil,
			[]string{"scrape"}, "scrape-targets.json"},
		{"duplicate names", func(e *env) {
			configWith(target("a", filepath.Join(e.root, "myserver")) + "," + target("a", filepath.Join(e.root, "other")))(e)
		}, nil, []string{"scrape"}, "name"},
		{"duplicate output_dirs", func(e *env) {
			configWith(target("a", filepath.Join(e.root, "myserver")) + "," + target("b", filepath.Join(e.root, "myserver")))(e)
		}, nil, []string{"scrape"}, "output_dir"},
		{"relative archive_root", func(e *env) {
			e.writeConfig(`{"archive_root": "archive", "targets": [` + target("a", filepath.Join(e.root, "myserver")) + `]}`)
		}, nil, []string{"scrape"}, "archive_root"},
		{"output_dir outside the root", func(e *env) { configWith(target("a", e.dir))(e) }, nil,
			[]string{"scrape"}, "output_dir"},
		{"output_dir outside via ..", func(e *env) { configWith(target("a", e.root+"/../config"))(e) }, nil,
			[]string{"scrape"}, "output_dir"},
		{"output_dir outside via a symlink", func(e *env) {
			if err := os.Symlink(filepath.Join(e.dir, "home"), filepath.Join(e.root, "link")); err != nil {
				e.t.Fatal(err)
			}
			configWith(target("a", filepath.Join(e.root, "link")))(e)
		}, nil, []string{"scrape"}, "output_dir"},
		{"unknown kind", func(e *env) {
			configWith(fmt.Sprintf(`{"name": "a", "kind": "server", "output_dir": %q, "guild_ids": [%q]}`, filepath.Join(e.root, "myserver"), guildA))(e)
		}, nil, []string{"scrape"}, "kind"},
		{"--target not in the config", nil, nil, []string{"scrape", "--target", "nope"}, "nope"},
		{"--guild with several targets", nil, nil, []string{"scrape", "--guild", guildA}, "--guild"},
		{"--guild outside the target's scope", nil, nil, []string{"scrape", "--target", "myserver", "--guild", guildB}, guildB},
		{"missing compose file", nil, []string{"DCE_COMPOSE_FILE=/nonexistent/docker-compose.yml"},
			[]string{"scrape"}, "/nonexistent/docker-compose.yml"},
		{"no compose binary", nil, []string{"PATH=/nonexistent"}, []string{"scrape"}, "no compose command found"},
		{"DCE_ARCHIVE_ROOT differs from archive_root", nil, []string{"DCE_ARCHIVE_ROOT=/srv/elsewhere"},
			[]string{"scrape"}, "DCE_ARCHIVE_ROOT"},
		{"unknown --runner", nil, nil, []string{"scrape", "--runner", "kubernetes"}, "--runner"},
		{"negative --parallel", nil, nil, []string{"scrape", "--parallel", "-1"}, "--parallel"},
		{"unknown flag", nil, nil, []string{"scrape", "--no-such-flag"}, "--no-such-flag"},
		{"bad log file", nil, nil, []string{"preflight", "--log-file", "/nonexistent/dir/x.log"}, "--log-file"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			if tt.setup != nil {
				tt.setup(e)
			}
			before := snapshot(t, e.dir)
			r := e.run(tt.extraEnv, tt.args...)
			if r.code != 2 {
				t.Fatalf("want exit 2: %s", r)
			}
			if !strings.Contains(r.stderr, tt.want) {
				t.Errorf("error does not name %q: %s", tt.want, r)
			}
			if n := len(e.runs()); n != 0 {
				t.Errorf("%d container runs, want none", n)
			}
			if diff := diffSnapshots(before, snapshot(t, e.dir)); diff != "" {
				t.Errorf("files changed:\n%s", diff)
			}
		})
	}
}

func TestFullChainThroughTheInnerRun(t *testing.T) {
	// The fake container runs the real inner dcehost (--runner local
	// --no-lock) with the fake DCE CLI: the first attempt's stale token is
	// rejected by DCE, the inner run exits 4, the host reloads the token
	// file (refreshed meanwhile) and the second attempt writes the archive.
	// The inner run must not trip over the lock its parent holds.
	e := newEnv(t)
	const channel = "333333333333333333"
	state := filepath.Join(t.TempDir(), "fakedce.json")
	write(t, state, fmt.Sprintf(`{"tokens": [%q], "now": "2026-06-04T12:00:00Z", "guilds": [{"id": %q, "name": "My Server",
		"channels": [{"id": %q, "name": "general", "category": "Text", "category_id": "5",
			"messages": [{"id": "400000000000000001", "content": "hello"}, {"id": "400000000000000002", "content": "again"}]}]}]}`,
		freshToken, guildA, channel), 0o644)
	e.setScript(fmt.Sprintf(`[{"rewrite": {"path": %q, "content": %q}, "container": true}]`, e.tokenFile, freshToken+"\n"))
	extra := []string{
		"FAKEDOCKER_CLI_BIN=" + filepath.Join(buildDir, "dce", "DiscordChatExporter.Cli"),
		"FAKEDOCKER_PASS=FAKEDCE_STATE",
		"FAKEDCE_STATE=" + state,
	}
	r := e.run(extra, "scrape", "--target", "myserver")
	if r.code != 0 {
		t.Fatalf("want exit 0: %s", r)
	}
	if n := len(e.runs()); n != 2 {
		t.Fatalf("%d container runs, want 2", n)
	}
	matches, err := filepath.Glob(filepath.Join(e.root, "myserver", `*\[`+channel+`\].json`))
	if err != nil || len(matches) != 1 {
		t.Fatalf("archives for channel %s: %q, %v\n%s", channel, matches, err, r)
	}
	data, err := os.ReadFile(matches[0])
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(data), "400000000000000002") {
		t.Fatalf("archive lacks the exported messages:\n%s", data)
	}
	for _, tok := range []string{staleToken, freshToken} {
		if strings.Contains(r.stdout+r.stderr, tok) {
			t.Fatalf("token in the output: %s", r)
		}
	}
	// The inner run left the retry to the host: one "rejected" notice,
	// from the host, naming the token file.
	if n := strings.Count(r.stderr, "retrying once"); n != 1 || !strings.Contains(r.stderr, `source="DISCORD_TOKEN_FILE=`) {
		t.Fatalf("want exactly one retry, by the host: %s", r)
	}
}
