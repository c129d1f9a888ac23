package crashtest

import (
	"bytes"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"io/fs"
	"math"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/dcehost/dcehost/internal/archive"
	"github.com/dcehost/dcehost/internal/lock"
)

const (
	token   = "MTAx.crash-token.ZZZ"
	guildID = "1100000000000000000"
	// exitFailed is dcehost's exit code for a run in which some channels
	// failed (here: exports the fake killed).
	exitFailed = 7
	// exitLocked is dcehost's exit code when another run holds the lock.
	exitLocked = 3
)

// targetDirs are the output_dirs (below the archive root) of the targets.
var targetDirs = []string{"srv", "dms"}

// obj is a JSON object of the fake's state file (testdata/fakedce/state.go).
type obj = map[string]any

func channel(id, name string, messages int, firstID uint64) obj {
	return obj{"id": id, "name": name, "generate": obj{"count": messages, "first_id": strconv.FormatUint(firstID, 10)}}
}

// fakeState is what the fake DCE serves: the base history, or (grown)
// more messages in every channel and thread, a new channel and a new DM.
// Its fixed "now" makes exportedAt, and so every archive, deterministic.
func fakeState(grown bool) obj {
	n := func(base, more int) int {
		if grown {
			return base + more
		}
		return base
	}
	general := channel("1200000000000000001", "general", n(400, 800), 1300000000000000000)
	general["category"], general["category_id"] = "Text", "1200000000000000000"
	general["resend"] = 3 // exports overlap the archive
	general["threads"] = []obj{channel("1200000000000000002", "a thread", n(200, 300), 1300000000000100000)}
	chans := []obj{general, channel("1200000000000000003", "random", n(300, 600), 1300000000000200000)}
	dms := []obj{channel("1200000000000000010", "friend", n(250, 350), 1300000000000300000)}
	if grown {
		chans = append(chans, channel("1200000000000000004", "fresh", 700, 1300000000000400000))
		dms = append(dms, channel("1200000000000000011", "new friend", 300, 1300000000000500000))
	}
	return obj{"tokens": []string{token}, "now": "2026-06-04T12:00:00Z",
		"guilds": []obj{{"id": guildID, "name": "Crash Server", "channels": chans}}, "dms": dms}
}

// faultedState is the grown state in which the fake SIGKILLs itself (as
// the OOM killer would) after a random number of messages of every
// export, leaving partial exports for salvage.
func faultedState(rng *rand.Rand) obj {
	st := fakeState(true)
	var fault func(chans []obj)
	fault = func(chans []obj) {
		for _, c := range chans {
			c["fault"] = obj{"signal": "KILL", "kill_after": rng.IntN(400)}
			if th, ok := c["threads"].([]obj); ok {
				fault(th)
			}
		}
	}
	fault(st["guilds"].([]obj)[0]["channels"].([]obj))
	fault(st["dms"].([]obj))
	return st
}

// bins are the programs under test, built once.
type bins struct{ dcehost, fake string }

func build(t *testing.T) bins {
	t.Helper()
	dir := t.TempDir()
	b := bins{dcehost: filepath.Join(dir, "dcehost"), fake: filepath.Join(dir, "DiscordChatExporter.Cli")}
	for _, p := range [][2]string{{b.dcehost, "./cmd/dcehost"}, {b.fake, "./testdata/fakedce"}} {
		cmd := exec.Command("go", "build", "-o", p[0], p[1])
		cmd.Dir = filepath.Join("..", "..")
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("go build %s: %v\n%s", p[1], err, out)
		}
	}
	return b
}

// world is one installation: scrape.env, config/scrape-targets.json, a
// token file and the fake's state in dir, the archive root below it.
type world struct {
	t       *testing.T
	bins    bins
	dir     string
	root    string            // archive_root
	state   string            // the fake's state file
	outside map[string]string // tree of dir outside the output_dirs
}

func newWorld(t *testing.T, b bins, dir string, base string) *world {
	t.Helper()
	w := &world{t: t, bins: b, dir: dir, root: filepath.Join(dir, "archive"), state: filepath.Join(dir, "fake-state.json")}
	if base != "" {
		if err := os.CopyFS(w.root, os.DirFS(base)); err != nil {
			t.Fatal(err)
		}
	}
	cfg := obj{"archive_root": w.root, "targets": []obj{
		{"name": "srv", "output_dir": filepath.Join(w.root, "srv"), "guild_ids": []string{guildID}, "include_threads": "all"},
		{"name": "dms", "kind": "dms", "output_dir": filepath.Join(w.root, "dms")},
	}}
	w.write(filepath.Join("config", "scrape-targets.json"), cfg)
	w.write("scrape.env", "DISCORD_TOKEN_FILE=.discord-token\nDCE_CONFIG_FILE=config/scrape-targets.json\n"+
		"DCE_CLI_BIN="+b.fake+"\nDCE_MIN_FREE_MB=1\n")
	w.write(".discord-token", token+"\n")
	if err := os.MkdirAll(w.root, 0o755); err != nil {
		t.Fatal(err)
	}
	return w
}

// write writes a file below dir: a string as is, anything else as JSON.
func (w *world) write(rel string, v any) {
	w.t.Helper()
	data, ok := v.(string)
	if !ok {
		b, err := json.Marshal(v)
		if err != nil {
			w.t.Fatal(err)
		}
		data = string(b)
	}
	p := filepath.Join(w.dir, rel)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		w.t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(data), 0o600); err != nil {
		w.t.Fatal(err)
	}
}

// setState writes the fake's state and records the files outside the
// output_dirs, which no run may change.
func (w *world) setState(st obj) {
	w.write(filepath.Base(w.state), st)
	w.outside = w.outsideTree()
}

// run starts dcehost with args in its own process group and, when kill
// is not negative, SIGKILLs the group kill after the start unless the
// run finished first. A run that finishes must exit with want. run
// reports whether the kill landed, and returns once every process of the
// group is gone.
func (w *world) run(kill time.Duration, want int, args ...string) bool {
	w.t.Helper()
	cmd := exec.Command(w.bins.dcehost, append([]string{"--env-file", filepath.Join(w.dir, "scrape.env")}, args...)...)
	cmd.Dir = w.dir
	cmd.Env = []string{"PATH=/usr/bin:/bin", "HOME=" + w.dir, "TZ=UTC", "FAKEDCE_STATE=" + w.state}
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		w.t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	var timer <-chan time.Time
	if kill >= 0 {
		timer = time.After(kill)
	}
	select {
	case <-done:
	case <-timer:
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		<-done
	}
	awaitGroupGone(cmd.Process.Pid)
	ws := cmd.ProcessState.Sys().(syscall.WaitStatus)
	if ws.Signaled() && ws.Signal() == syscall.SIGKILL && kill >= 0 {
		return true
	}
	switch code := cmd.ProcessState.ExitCode(); {
	case code == want:
		return false
	case code == exitLocked:
		w.t.Fatalf("dcehost %s exited %d: the archive lock was not released by the killed run\n%s", strings.Join(args, " "), code, out.String())
	default:
		w.t.Fatalf("dcehost %s: %v, want exit %d\n%s", strings.Join(args, " "), cmd.ProcessState, want, out.String())
	}
	return false
}

// awaitGroupGone waits until no process of group pgid is left but zombies
// (DCE children of a killed dcehost, reparented and not yet reaped: they
// hold no file and write nothing).
func awaitGroupGone(pgid int) {
	for syscall.Kill(-pgid, 0) == nil && groupHasLive(pgid) {
		_ = syscall.Kill(-pgid, syscall.SIGKILL)
		time.Sleep(time.Millisecond)
	}
}

func groupHasLive(pgid int) bool {
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		stat, err := os.ReadFile(filepath.Join("/proc", e.Name(), "stat"))
		if err != nil {
			continue
		}
		// pid (comm) state ppid pgrp ...
		f := strings.Fields(string(stat[bytes.LastIndexByte(stat, ')')+1:]))
		if len(f) > 2 && f[0] != "Z" && f[2] == strconv.Itoa(pgid) {
			return true
		}
	}
	return false
}

// tree maps the regular files below dir (relative paths) to their mode
// and a hash of their content, leaving out what skip says.
func tree(t *testing.T, dir string, skip func(rel string) bool) map[string]string {
	t.Helper()
	out := map[string]string{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		if skip(rel) {
			if d.IsDir() {
				return filepath.SkipDir
			}
			return nil
		}
		if !d.Type().IsRegular() {
			return nil
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		out[rel] = fmt.Sprintf("%v %x", info.Mode(), sha256.Sum256(data))
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// archiveFiles is the tree of the archive root without .dce-meta (the
// engine's own index and channel map) and the lock.
func (w *world) archiveFiles() map[string]string {
	return tree(w.t, w.root, func(rel string) bool {
		return filepath.Base(rel) == ".dce-meta" || strings.HasPrefix(rel, lock.FileName)
	})
}

// outsideTree is the tree of dir outside the output_dirs and the lock
// (its file, holder sidecar and the sidecar's temp file live in the
// archive root).
func (w *world) outsideTree() map[string]string {
	rootRel, _ := filepath.Rel(w.dir, w.root)
	return tree(w.t, w.dir, func(rel string) bool {
		for _, d := range targetDirs {
			if rel == filepath.Join(rootRel, d) {
				return true
			}
		}
		return strings.HasPrefix(rel, filepath.Join(rootRel, lock.FileName))
	})
}

// archives checks every archive of the targets with archive.Verify and
// encoding/json and returns channel id -> message ids. Temp files beside
// archives and everything under .dce-temp and .dce-meta are not archives.
func (w *world) archives(when string) map[string][]string {
	w.t.Helper()
	out := map[string][]string{}
	for rel := range w.archiveFiles() {
		id := archive.ChannelIDFromName(rel)
		if id == "" || strings.HasPrefix(filepath.Base(rel), ".") || strings.Contains(rel, ".dce-temp") {
			continue
		}
		p := filepath.Join(w.root, rel)
		if rep, err := archive.Verify(p); err != nil || !rep.OK() {
			w.t.Fatalf("%s: archive %s is not valid: %v %q", when, rel, err, rep.Problems)
		}
		data, err := os.ReadFile(p)
		if err != nil {
			w.t.Fatal(err)
		}
		var doc struct {
			Messages []struct {
				ID string `json:"id"`
			} `json:"messages"`
		}
		if err := json.Unmarshal(data, &doc); err != nil {
			w.t.Fatalf("%s: archive %s is not valid JSON: %v", when, rel, err)
		}
		if _, dup := out[id]; dup {
			w.t.Fatalf("%s: two archives of channel %s", when, id)
		}
		out[id] = []string{}
		for _, m := range doc.Messages {
			out[id] = append(out[id], m.ID)
		}
	}
	return out
}

// check is what must hold after any run, killed or not: every archive is
// valid and still has every id of before, and nothing outside the
// output_dirs but the lock was written. It returns the archives' ids.
func (w *world) check(when string, before map[string][]string) map[string][]string {
	w.t.Helper()
	now := w.archives(when)
	for id, ids := range before {
		have := map[string]bool{}
		for _, x := range now[id] {
			have[x] = true
		}
		var lost []string
		for _, x := range ids {
			if !have[x] {
				lost = append(lost, x)
			}
		}
		if len(lost) > 0 {
			w.t.Fatalf("%s: channel %s lost %d archived message ids (first %s)", when, id, len(lost), lost[0])
		}
	}
	if diff := cmp.Diff(w.outside, w.outsideTree()); diff != "" {
		w.t.Fatalf("%s: files outside the output_dirs changed (-before +after):\n%s", when, diff)
	}
	return now
}

// envUint is the number in the variable name, def when it is not set.
func envUint(t *testing.T, name string, def, minimum uint64) uint64 {
	v := os.Getenv(name)
	if v == "" {
		return def
	}
	n, err := strconv.ParseUint(v, 10, 64)
	if err != nil || n < minimum {
		t.Fatalf("%s=%q: want a whole number from %d", name, v, minimum)
	}
	return n
}

// TestCrashRealBinary SIGKILLs the process group of a real `dcehost
// scrape --runner local` (and, every third round, first a `dcehost
// salvage --runner local` over partial exports a faulted scrape left) at
// a random instant of its run. After every kill each archive is valid and
// has every id it had, nothing outside the output_dirs but the lock was
// written, and the next run is not refused the lock (exit 3); a clean
// re-run then converges byte for byte to the archives of an uninterrupted
// run. DCEHOST_CRASH_KILLS is the number of kills (default 5), and
// DCEHOST_CRASH_SEED replays the random choices (kill delays, --parallel,
// fault points) of a logged seed; where a delay lands in the run depends
// on the machine's speed.
func TestCrashRealBinary(t *testing.T) {
	if testing.Short() {
		t.Skip("crash test: builds and kills a real dcehost")
	}
	kills := envUint(t, "DCEHOST_CRASH_KILLS", 5, 1)
	seed := envUint(t, "DCEHOST_CRASH_SEED", uint64(time.Now().UnixNano()), 0)
	t.Logf("seed %d (DCEHOST_CRASH_SEED=%d replays it)", seed, seed)
	rng := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	b := build(t)
	tmp := t.TempDir()
	scrape := []string{"scrape", "--runner", "local"}
	salvage := []string{"salvage", "--runner", "local"}

	// The base archives: an uninterrupted scrape of the base history.
	first := newWorld(t, b, filepath.Join(tmp, "first"), "")
	first.setState(fakeState(false))
	first.run(-1, 0, scrape...)
	baseIDs := first.check("base run", nil)
	base := filepath.Join(tmp, "base")
	for _, d := range targetDirs {
		if err := os.CopyFS(filepath.Join(base, d), os.DirFS(filepath.Join(first.root, d))); err != nil {
			t.Fatal(err)
		}
	}
	// The reference: two uninterrupted scrapes of the grown history over
	// the base give the same archives, and are timed: kills come within
	// the shorter time.
	var want map[string]string
	scrapeWindow := time.Duration(math.MaxInt64)
	for i := range 2 {
		ref := newWorld(t, b, filepath.Join(tmp, fmt.Sprintf("ref%d", i)), base)
		ref.setState(fakeState(true))
		start := time.Now()
		ref.run(-1, 0, scrape...)
		scrapeWindow = min(scrapeWindow, time.Since(start))
		ref.check("reference run", baseIDs)
		got := ref.archiveFiles()
		if want == nil {
			want = got
		} else if diff := cmp.Diff(want, got); diff != "" {
			t.Fatalf("two uninterrupted runs wrote different archives (-first +second):\n%s", diff)
		}
	}

	// A faulted scrape leaves partial exports; an uninterrupted salvage of
	// them is timed too, and a clean scrape after it converges.
	probe := newWorld(t, b, filepath.Join(tmp, "probe"), base)
	probe.setState(faultedState(rng))
	probe.run(-1, exitFailed, scrape...)
	if partials, _ := filepath.Glob(filepath.Join(probe.root, "*", ".dce-temp", "*")); len(partials) == 0 {
		t.Fatalf("the faulted scrape left no partial export")
	} else {
		t.Logf("the faulted scrape left %d partial exports", len(partials))
	}
	probe.setState(fakeState(true))
	start := time.Now()
	probe.run(-1, 0, salvage...)
	salvageWindow := time.Since(start)
	probe.check("uninterrupted salvage", baseIDs)
	probe.run(-1, 0, scrape...)
	if diff := cmp.Diff(want, probe.archiveFiles()); diff != "" {
		t.Fatalf("scrape after salvage: archives differ from an uninterrupted run (-want +got):\n%s", diff)
	}
	t.Logf("uninterrupted scrape %v, salvage %v: each kill comes at a random instant within that time", scrapeWindow, salvageWindow)

	var attempts, landed [2]int // scrape, salvage
	defer func() {
		t.Logf("%d of %d scrape runs and %d of %d salvage runs were SIGKILLed before they finished",
			landed[0], attempts[0], landed[1], attempts[1])
	}()
	for round := 0; uint64(attempts[0]+attempts[1]) < kills; round++ {
		w := newWorld(t, b, filepath.Join(tmp, fmt.Sprintf("round%d", round)), base)
		before := baseIDs
		kill := func(mode int, window time.Duration, args ...string) {
			delay := time.Duration(rng.Int64N(int64(window)))
			attempts[mode]++
			if w.run(delay, 0, args...) {
				landed[mode]++
			}
			before = w.check(fmt.Sprintf("round %d: %s with a SIGKILL due %v after its start", round, args[0], delay), before)
		}
		if round%3 == 2 {
			w.setState(faultedState(rng))
			w.run(-1, exitFailed, scrape...)
			before = w.check(fmt.Sprintf("round %d: faulted scrape", round), before)
			w.setState(fakeState(true))
			kill(1, salvageWindow, salvage...)
		} else {
			w.setState(fakeState(true))
		}
		kill(0, scrapeWindow, append(scrape, "--parallel", strconv.Itoa(1+rng.IntN(2)))...)
		w.run(-1, 0, scrape...)
		w.check(fmt.Sprintf("round %d: clean re-run", round), before)
		if diff := cmp.Diff(want, w.archiveFiles()); diff != "" {
			t.Fatalf("round %d: after a clean re-run the archives differ from an uninterrupted run (-want +got):\n%s", round, diff)
		}
		if err := os.RemoveAll(w.dir); err != nil {
			t.Fatal(err)
		}
	}
}
