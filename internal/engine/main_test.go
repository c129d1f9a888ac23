package engine

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/dcehost/dcehost/internal/dce"
	"github.com/dcehost/dcehost/internal/iostreams"
	"github.com/dcehost/dcehost/internal/runner"
	"github.com/dcehost/dcehost/internal/summary"
	"github.com/dcehost/dcehost/internal/targets"
)

// fakeBin is testdata/fakedce built as DiscordChatExporter.Cli.
var fakeBin string

func TestMain(m *testing.M) {
	if spec := os.Getenv(crashChildEnv); spec != "" {
		os.Exit(crashChild(spec))
	}
	os.Exit(buildFakeAndRun(m))
}

func buildFakeAndRun(m *testing.M) int {
	dir, err := os.MkdirTemp("", "engine-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	fakeBin = filepath.Join(dir, dce.DefaultBin)
	cmd := exec.Command("go", "build", "-o", fakeBin, "../../testdata/fakedce")
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "build fakedce:", err)
		return 1
	}
	return m.Run()
}

// The fake's state file (testdata/fakedce/state.go).
type fState struct {
	Tokens   []string `json:"tokens"`
	Now      string   `json:"now"`
	OlderDCE bool     `json:"older_dce"`
	Guilds   []fGuild `json:"guilds"`
	DMs      []fChan  `json:"dms"`
	Fault    *fFault  `json:"fault,omitempty"`
}

type fGuild struct {
	ID       string  `json:"id"`
	Name     string  `json:"name"`
	Channels []fChan `json:"channels"`
}

type fChan struct {
	ID         string  `json:"id"`
	Name       string  `json:"name"`
	Category   string  `json:"category,omitempty"`
	CategoryID string  `json:"category_id,omitempty"`
	Voice      bool    `json:"voice,omitempty"`
	Forum      bool    `json:"forum,omitempty"`
	Archived   bool    `json:"archived,omitempty"`
	Error      string  `json:"error,omitempty"`
	Messages   []fMsg  `json:"messages,omitempty"`
	Generate   *fGen   `json:"generate,omitempty"`
	Fault      *fFault `json:"fault,omitempty"`
	Threads    []fChan `json:"threads,omitempty"`
	ExportAs   string  `json:"export_as,omitempty"`
	Resend     int     `json:"resend,omitempty"`
}

type fMsg struct {
	ID      string `json:"id"`
	Content string `json:"content,omitempty"`
	Edited  string `json:"edited,omitempty"`
}

type fGen struct {
	Count   int    `json:"count"`
	FirstID string `json:"first_id"`
}

type fFault struct {
	Command   string `json:"command,omitempty"`
	ExitCode  int    `json:"exit_code,omitempty"`
	Stderr    string `json:"stderr,omitempty"`
	KillAfter int    `json:"kill_after,omitempty"`
	Signal    string `json:"signal,omitempty"`
}

const testToken = "MTAx.secret-token.ZZZ"

var clock = time.Date(2026, 6, 4, 12, 0, 0, 0, time.UTC)

// env is an archive root with targets and a fake DCE.
type env struct {
	t         testing.TB
	root      string // temp dir holding everything
	archive   string // archive_root
	state     fState
	statePath string
	logPath   string
	cfg       *targets.Config
}

func newEnv(t testing.TB, st fState) *env {
	t.Helper()
	root := t.TempDir()
	e := &env{t: t, root: root, archive: filepath.Join(root, "archive"), state: st,
		statePath: filepath.Join(root, "fake-state.json"), logPath: filepath.Join(root, "fake-log.jsonl")}
	if e.state.Tokens == nil {
		e.state.Tokens = []string{testToken}
	}
	if e.state.Now == "" {
		e.state.Now = clock.Format(time.RFC3339)
	}
	if err := os.MkdirAll(e.archive, 0o755); err != nil {
		t.Fatal(err)
	}
	e.cfg = &targets.Config{Path: filepath.Join(root, "scrape-targets.json"), ArchiveRoot: e.archive}
	e.save()
	return e
}

func (e *env) save() {
	e.t.Helper()
	data, err := json.Marshal(e.state)
	if err != nil {
		e.t.Fatal(err)
	}
	if err := os.WriteFile(e.statePath, data, 0o644); err != nil {
		e.t.Fatal(err)
	}
}

// guildTarget adds a guild target over guild ids.
func (e *env) guildTarget(name string, guildIDs ...string) targets.Target {
	t := targets.Target{Name: name, Kind: targets.Guild, OutputDir: filepath.Join(e.archive, name),
		GuildIDs: guildIDs, Enabled: true, IncludeThreads: targets.ThreadsAll}
	e.cfg.Targets = append(e.cfg.Targets, t)
	return t
}

type result struct {
	err     error
	stdout  string
	stderr  string
	summary *summary.Summary
}

func (e *env) local() *Local {
	return &Local{
		Now: func() time.Time { return clock },
		NewDCE: func(req runner.Request) (DCE, error) {
			return &dce.Client{Bin: fakeBin, Token: req.Token, Env: []string{
				"FAKEDCE_STATE=" + e.statePath, "FAKEDCE_LOG=" + e.logPath, "PATH=" + os.Getenv("PATH"), "TZ=UTC"}}, nil
		},
		TempDir: filepath.Join(e.root, "tmp"),
	}
}

func (e *env) run(mode runner.Mode, parallel int, ts ...targets.Target) result {
	e.t.Helper()
	return e.runWith(e.local(), mode, testToken, parallel, ts...)
}

func (e *env) runWith(l *Local, mode runner.Mode, tok string, parallel int, ts ...targets.Target) result {
	e.t.Helper()
	if err := os.MkdirAll(filepath.Join(e.root, "tmp"), 0o755); err != nil {
		e.t.Fatal(err)
	}
	ios, _, out, errOut := iostreams.Test()
	sumPath := filepath.Join(e.root, "summary.json")
	_ = os.Remove(sumPath)
	if !mode.NeedsToken() {
		tok = ""
	}
	req := runner.Request{Mode: mode, Config: e.cfg, Targets: ts, Token: tok, Parallel: parallel,
		SummaryFile: sumPath, IO: ios, Log: slog.New(slog.NewTextHandler(errOut, nil))}
	err := l.Run(context.Background(), req)
	res := result{err: err, stdout: out.String(), stderr: errOut.String()}
	if s, rerr := summary.Read(sumPath); rerr == nil {
		res.summary = s
	}
	return res
}

// invocation is a line of the fake's log.
type invocation struct {
	Argv     []string `json:"argv"`
	TokenSet bool     `json:"token_set"`
}

func (e *env) invocations() []invocation {
	e.t.Helper()
	data, err := os.ReadFile(e.logPath)
	if os.IsNotExist(err) {
		return nil
	}
	if err != nil {
		e.t.Fatal(err)
	}
	var out []invocation
	dec := json.NewDecoder(bytes.NewReader(data))
	for dec.More() {
		var l invocation
		if err := dec.Decode(&l); err != nil {
			e.t.Fatal(err)
		}
		out = append(out, l)
	}
	return out
}

// exportsOf returns the --after value of every export of channel id ("" =
// no --after), in order.
func (e *env) exportsOf(id string) []string {
	var afters []string
	for _, inv := range e.invocations() {
		if len(inv.Argv) == 0 || inv.Argv[0] != "export" {
			continue
		}
		var ch, after string
		for i := 1; i+1 < len(inv.Argv); i++ {
			switch inv.Argv[i] {
			case "--channel":
				ch = inv.Argv[i+1]
			case "--after":
				after = inv.Argv[i+1]
			}
		}
		if ch == id {
			afters = append(afters, after)
		}
	}
	return afters
}

func (e *env) clearLog() {
	_ = os.Remove(e.logPath)
}

// archiveDoc is an archive read back for assertions.
type archiveDoc struct {
	Guild   struct{ ID, Name string }
	Channel struct {
		ID, Name, Category string
	}
	DateRange struct {
		After, Before *string
	}
	Messages []struct {
		ID      string `json:"id"`
		Content string `json:"content"`
	} `json:"messages"`
	MessageCount int `json:"messageCount"`
}

func readArchive(t *testing.T, path string) archiveDoc {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var d archiveDoc
	if err := json.Unmarshal(data, &d); err != nil {
		t.Fatalf("archive %s is not valid JSON: %v", path, err)
	}
	if d.MessageCount != len(d.Messages) {
		t.Errorf("archive %s: messageCount %d, %d messages", path, d.MessageCount, len(d.Messages))
	}
	return d
}

func (d archiveDoc) ids() []string {
	var ids []string
	for _, m := range d.Messages {
		ids = append(ids, m.ID)
	}
	return ids
}

// seq returns n consecutive ids from first.
func seq(first uint64, n int) []string {
	var out []string
	for i := range n {
		out = append(out, strconv.FormatUint(first+uint64(i), 10))
	}
	return out
}

func entryFor(t *testing.T, s *summary.Summary, id string) summary.Channel {
	t.Helper()
	if s == nil {
		t.Fatal("no summary written")
	}
	var found []summary.Channel
	for _, c := range s.Channels {
		if c.ChannelID == id {
			found = append(found, c)
		}
	}
	if len(found) != 1 {
		t.Fatalf("summary has %d entries for channel %s: %+v", len(found), id, s.Channels)
	}
	return found[0]
}

func mustRead(t *testing.T, path string) []byte {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

func containsAll(s string, subs ...string) bool {
	for _, x := range subs {
		if !strings.Contains(s, x) {
			return false
		}
	}
	return true
}
