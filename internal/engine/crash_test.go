package engine

import (
	"context"
	"encoding/json"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/dcehost/dcehost/internal/archive"
	"github.com/dcehost/dcehost/internal/dce"
	"github.com/dcehost/dcehost/internal/iostreams"
	"github.com/dcehost/dcehost/internal/runner"
	"github.com/dcehost/dcehost/internal/targets"
)

// crashChildEnv makes the test binary run one engine run (the spec in the
// variable) instead of the tests, so the parent can SIGKILL it.
const crashChildEnv = "ENGINE_CRASH_CHILD"

type crashSpec struct {
	Mode   runner.Mode    `json:"mode"`
	Bin    string         `json:"bin"`
	State  string         `json:"state"`
	Target targets.Target `json:"target"`
}

func crashChild(spec string) int {
	var cs crashSpec
	if err := json.Unmarshal([]byte(spec), &cs); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 98
	}
	l := &Local{
		Now: func() time.Time { return clock },
		NewDCE: func(req runner.Request) (DCE, error) {
			return &dce.Client{Bin: cs.Bin, Token: req.Token, Env: []string{"FAKEDCE_STATE=" + cs.State, "PATH=" + os.Getenv("PATH"), "TZ=UTC"}}, nil
		},
	}
	ios, _, _, _ := iostreams.Test()
	tok := testToken
	if !cs.Mode.NeedsToken() {
		tok = ""
	}
	err := l.Run(context.Background(), runner.Request{Mode: cs.Mode, Token: tok, Parallel: 2, IO: ios,
		Config: &targets.Config{Targets: []targets.Target{cs.Target}}, Targets: []targets.Target{cs.Target}})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return 0
}

// archivesIn maps channel id -> message ids of every archive below dir,
// checking each with archive.Verify.
func archivesIn(t *testing.T, dir string) map[string][]string {
	t.Helper()
	out := map[string][]string{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && (d.Name() == TempDirName || d.Name() == MetaDirName) {
			return filepath.SkipDir
		}
		m := archiveNameRe.FindStringSubmatch(d.Name())
		if d.IsDir() || m == nil {
			return nil
		}
		rep, err := archive.Verify(p)
		if err != nil || !rep.OK() {
			t.Errorf("archive %s after a kill: %v %v", p, err, rep.Problems)
		}
		out[m[1]] = readArchive(t, p).ids()
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func copyTree(t *testing.T, src, dst string) {
	t.Helper()
	err := filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		target := filepath.Join(dst, rel)
		if d.IsDir() {
			return os.MkdirAll(target, 0o755)
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(target, data, 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestCrashKillsConverge SIGKILLs an engine run (and its DCE children, as
// a container's death would) at random instants during scrape and
// salvage. After every kill each archive is a valid document that still
// has every id it had; a clean re-run then converges to exactly the
// archives of an uninterrupted run. DCEHOST_CRASH_KILLS sets the number of
// kills (default 3).
func TestCrashKillsConverge(t *testing.T) {
	if testing.Short() {
		t.Skip("crash test")
	}
	kills := 3
	if v := os.Getenv("DCEHOST_CRASH_KILLS"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			t.Fatalf("DCEHOST_CRASH_KILLS=%q: want a positive number", v)
		}
		kills = n
	}
	seed := uint64(time.Now().UnixNano())
	if v := os.Getenv("DCEHOST_CRASH_SEED"); v != "" {
		seed, _ = strconv.ParseUint(v, 10, 64)
	}
	t.Logf("seed %d (DCEHOST_CRASH_SEED to replay)", seed)
	rng := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))

	first := baseState()
	first.Tokens = []string{testToken}
	first.Now = clock.Format(time.RFC3339)
	first.Guilds[0].Channels[0].Generate = &fGen{Count: 600, FirstID: "2000000000000000000"}
	first.Guilds[0].Channels[1].Generate = &fGen{Count: 600, FirstID: "2000000000000100000"}
	second := first
	second.Guilds = []fGuild{first.Guilds[0]}
	second.Guilds[0].Channels = slices.Clone(first.Guilds[0].Channels)
	second.Guilds[0].Channels[0].Generate = &fGen{Count: 1200, FirstID: "2000000000000000000"}
	second.Guilds[0].Channels[1].Generate = &fGen{Count: 1200, FirstID: "2000000000000100000"}
	second.Guilds[0].Channels = append(second.Guilds[0].Channels, fChan{ID: "1000000000000000050", Name: "fresh", Generate: &fGen{Count: 800, FirstID: "2000000000000200000"}})

	// Reference: uninterrupted runs over both states.
	ref := newEnv(t, first)
	refTarget := ref.guildTarget("t", guildID)
	if r := ref.run(runner.Scrape, 2, refTarget); r.err != nil {
		t.Fatal(r.err)
	}
	base := filepath.Join(t.TempDir(), "base")
	copyTree(t, refTarget.OutputDir, base)
	ref.state = second
	ref.save()
	start := time.Now()
	if r := ref.run(runner.Scrape, 2, refTarget); r.err != nil {
		t.Fatal(r.err)
	}
	window := time.Since(start) + 20*time.Millisecond
	want := archivesIn(t, refTarget.OutputDir)
	wantBytes := snapshotExcept(t, refTarget.OutputDir, filepath.Join(refTarget.OutputDir, MetaDirName))

	e := newEnv(t, second)
	killed := 0
	defer func() { t.Logf("%d of the runs were killed before they finished", killed) }()
	for i := range kills {
		out := filepath.Join(e.root, fmt.Sprintf("run%d", i))
		copyTree(t, base, out)
		tg := targets.Target{Name: "t", Kind: targets.Guild, OutputDir: out, GuildIDs: []string{guildID}, IncludeThreads: targets.ThreadsAll}
		before := archivesIn(t, out)
		// Kill a scrape; every third round also kill the salvage after it.
		modes := []runner.Mode{runner.Scrape}
		if i%3 == 2 {
			modes = append(modes, runner.Salvage)
		}
		for _, mode := range modes {
			delay := time.Duration(rng.Int64N(int64(window)))
			if killRun(t, e, mode, tg, delay) {
				killed++
			}
			now := archivesIn(t, out)
			for id, ids := range before {
				for _, x := range ids {
					if !slices.Contains(now[id], x) {
						t.Fatalf("kill %d (%s after %v): channel %s lost message %s", i, mode, delay, id, x)
					}
				}
			}
			before = now
		}
		// A clean run converges to the uninterrupted result.
		if r := e.run(runner.Scrape, 1, tg); r.err != nil {
			t.Fatalf("kill %d: clean re-run: %v", i, r.err)
		}
		if diff := cmp.Diff(want, archivesIn(t, out)); diff != "" {
			t.Fatalf("kill %d: ids differ from an uninterrupted run (-want +got):\n%s", i, diff)
		}
		if diff := cmp.Diff(wantBytes, snapshotExcept(t, out, filepath.Join(out, MetaDirName))); diff != "" {
			t.Fatalf("kill %d: archives differ from an uninterrupted run (-want +got):\n%s", i, diff)
		}
	}
}

// killRun starts one engine run in a child process group and SIGKILLs the
// whole group after delay (or lets it finish first). It reports whether
// the kill came first.
func killRun(t *testing.T, e *env, mode runner.Mode, tg targets.Target, delay time.Duration) bool {
	t.Helper()
	spec, err := json.Marshal(crashSpec{Mode: mode, Bin: fakeBin, State: e.statePath, Target: tg})
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), crashChildEnv+"="+string(spec))
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	killed := false
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("%s run failed on its own: %v", mode, err)
		}
	case <-time.After(delay):
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		<-done
		killed = true
	}
	// Children of the group may outlive the leader for an instant.
	for i := 0; i < 5000 && syscall.Kill(-cmd.Process.Pid, 0) == nil; i++ {
		time.Sleep(time.Millisecond)
	}
	return killed
}
