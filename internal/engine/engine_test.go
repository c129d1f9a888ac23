package engine

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/dcehost/dcehost/internal/dce"
	"github.com/dcehost/dcehost/internal/failure"
	"github.com/dcehost/dcehost/internal/runner"
	"github.com/dcehost/dcehost/internal/summary"
	"github.com/dcehost/dcehost/internal/targets"
)

const (
	guildID   = "123456789012345678"
	generalID = "1000000000000000001"
	randomID  = "1000000000000000002"
	threadID  = "1000000000000000003"
)

func baseState() fState {
	return fState{Guilds: []fGuild{{ID: guildID, Name: "My Server", Channels: []fChan{
		{ID: generalID, Name: "general", Category: "Text", CategoryID: "5", Generate: &fGen{Count: 5, FirstID: "2000000000000000000"},
			Threads: []fChan{{ID: threadID, Name: "a/thread", Generate: &fGen{Count: 2, FirstID: "2000000000000000100"}}}},
		{ID: randomID, Name: "random", Category: "Text", CategoryID: "5", Messages: []fMsg{{ID: "2000000000000000050", Content: "hi"}}},
	}}}}
}

func generalPath(e *env, target string) string {
	return filepath.Join(e.archive, target, "My Server - Text - general ["+generalID+"].json")
}

func TestInitialExport(t *testing.T) {
	e := newEnv(t, baseState())
	tg := e.guildTarget("myserver", guildID)
	r := e.run(runner.Scrape, 1, tg)
	if r.err != nil {
		t.Fatalf("run: %v\nstderr: %s", r.err, r.stderr)
	}
	d := readArchive(t, generalPath(e, "myserver"))
	if diff := cmp.Diff(seq(2000000000000000000, 5), d.ids()); diff != "" {
		t.Errorf("general ids (-want +got):\n%s", diff)
	}
	if d.DateRange.After != nil {
		t.Errorf("initial archive dateRange.after = %q, want null", *d.DateRange.After)
	}
	thread := filepath.Join(e.archive, "myserver", "My Server - general - a_thread ["+threadID+"].json")
	if got := readArchive(t, thread).ids(); len(got) != 2 {
		t.Errorf("thread archive ids = %v", got)
	}
	for _, id := range []string{generalID, randomID, threadID} {
		if c := entryFor(t, r.summary, id); c.Action != summary.Created || c.GuildLabel != "My Server ["+guildID+"]" || c.Delta != c.AfterCount {
			t.Errorf("summary entry %+v", c)
		}
	}
	if r.summary.Totals.Created != 3 || r.summary.Totals.MessagesAppended != 8 {
		t.Errorf("totals %+v", r.summary.Totals)
	}
	if !strings.Contains(r.stderr, summary.LinePrefix+`{"version":1`) || !containsAll(r.stdout, "CREATED", generalID) {
		t.Errorf("stdout %q\nstderr %q", r.stdout, r.stderr)
	}
	// Nothing left in .dce-temp; the channel map names every archive.
	if left, _ := os.ReadDir(filepath.Join(e.archive, "myserver", TempDirName)); len(left) != 0 {
		t.Errorf(".dce-temp not empty: %v", left)
	}
	m := readChannelMap(t, filepath.Join(e.archive, "myserver"))
	if m[generalID] != generalPath(e, "myserver") || m[threadID] != thread || len(m) != 3 {
		t.Errorf("channel map %v", m)
	}
	if got := e.exportsOf(generalID); !slices.Equal(got, []string{""}) {
		t.Errorf("general exported with --after %q, want one export without --after", got)
	}
}

func readChannelMap(t *testing.T, dir string) map[string]string {
	t.Helper()
	var m map[string]string
	if err := jsonUnmarshal(mustRead(t, filepath.Join(dir, MetaDirName, ChannelMapName)), &m); err != nil {
		t.Fatal(err)
	}
	return m
}

func TestAppendAndIdempotentRerun(t *testing.T) {
	e := newEnv(t, baseState())
	tg := e.guildTarget("myserver", guildID)
	if r := e.run(runner.Scrape, 1, tg); r.err != nil {
		t.Fatal(r.err)
	}
	path := generalPath(e, "myserver")
	before := mustRead(t, path)

	// Three new messages.
	e.state.Guilds[0].Channels[0].Messages = []fMsg{{ID: "2000000000000000010"}, {ID: "2000000000000000011"}, {ID: "2000000000000000012"}}
	e.save()
	e.clearLog()
	r := e.run(runner.Scrape, 1, tg)
	if r.err != nil {
		t.Fatal(r.err)
	}
	if got := e.exportsOf(generalID); !slices.Equal(got, []string{"2000000000000000004"}) {
		t.Errorf("--after values %q, want the archive's largest id", got)
	}
	c := entryFor(t, r.summary, generalID)
	if c.Action != summary.Merged || c.BeforeCount != 5 || c.FetchedCount != 3 || c.AfterCount != 8 || c.Delta != 3 {
		t.Errorf("entry %+v", c)
	}
	after := mustRead(t, path)
	// Every byte of the archived messages is still there, in place.
	lastOld := strings.LastIndex(string(before), "\n    }")
	if lastOld < 0 || !strings.HasPrefix(string(after), string(before[:strings.Index(string(before), `"exportedAt"`)])) ||
		!strings.Contains(string(after), string(before[strings.Index(string(before), `"messages": [`):lastOld])) {
		t.Errorf("archived bytes changed:\nbefore:\n%s\nafter:\n%s", before, after)
	}
	if entryFor(t, r.summary, randomID).Action != summary.Unchanged {
		t.Errorf("random: %+v", entryFor(t, r.summary, randomID))
	}

	// Re-run with nothing new: every archive byte-for-byte identical.
	snap := snapshot(t, e.archive)
	r = e.run(runner.Scrape, 1, tg)
	if r.err != nil {
		t.Fatal(r.err)
	}
	for _, c := range r.summary.Channels {
		if c.Action != summary.Unchanged || c.Delta != 0 || c.FetchedCount != 0 {
			t.Errorf("re-run entry %+v", c)
		}
	}
	if diff := cmp.Diff(snap, snapshot(t, e.archive)); diff != "" {
		t.Errorf("re-run changed files (-before +after):\n%s", diff)
	}
}

func TestOverlapWithEditedMessage(t *testing.T) {
	st := baseState()
	e := newEnv(t, st)
	tg := e.guildTarget("myserver", guildID)
	if r := e.run(runner.Scrape, 1, tg); r.err != nil {
		t.Fatal(r.err)
	}
	// The last archived message is edited and the export overlaps it.
	ch := &e.state.Guilds[0].Channels[0]
	ch.Generate = &fGen{Count: 4, FirstID: "2000000000000000000"}
	ch.Messages = []fMsg{{ID: "2000000000000000004", Content: "edited", Edited: "2026-06-01T00:00:00+00:00"}, {ID: "2000000000000000005", Content: "new"}}
	ch.Resend = 1
	e.save()
	r := e.run(runner.Scrape, 1, tg)
	if r.err != nil {
		t.Fatal(r.err)
	}
	d := readArchive(t, generalPath(e, "myserver"))
	if diff := cmp.Diff(seq(2000000000000000000, 6), d.ids()); diff != "" {
		t.Errorf("ids (-want +got):\n%s", diff)
	}
	if d.Messages[4].Content != "edited" {
		t.Errorf("overlapping message content %q, want the export's edited copy", d.Messages[4].Content)
	}
	if c := entryFor(t, r.summary, generalID); c.FetchedCount != 2 || c.AfterCount != 6 || c.Delta != 1 {
		t.Errorf("entry %+v", c)
	}
}

func TestMixedLengthIDs(t *testing.T) {
	st := fState{Guilds: []fGuild{{ID: guildID, Name: "G", Channels: []fChan{
		{ID: generalID, Name: "general", Messages: []fMsg{{ID: "999999999999999999"}, {ID: "1000000000000000000"}}},
	}}}}
	e := newEnv(t, st)
	tg := e.guildTarget("g", guildID)
	if r := e.run(runner.Scrape, 1, tg); r.err != nil {
		t.Fatal(r.err)
	}
	e.state.Guilds[0].Channels[0].Messages = append(e.state.Guilds[0].Channels[0].Messages, fMsg{ID: "1000000000000000007"})
	e.save()
	r := e.run(runner.Scrape, 1, tg)
	if r.err != nil {
		t.Fatal(r.err)
	}
	if got := e.exportsOf(generalID); !slices.Equal(got, []string{"", "1000000000000000000"}) {
		t.Errorf("--after values %q, want the numerically largest id 1000000000000000000", got)
	}
	d := readArchive(t, filepath.Join(e.archive, "g", "G - general ["+generalID+"].json"))
	if diff := cmp.Diff([]string{"999999999999999999", "1000000000000000000", "1000000000000000007"}, d.ids()); diff != "" {
		t.Errorf("ids (-want +got):\n%s", diff)
	}
}

func TestWrongChannelExportLeavesArchive(t *testing.T) {
	e := newEnv(t, baseState())
	tg := e.guildTarget("myserver", guildID)
	if r := e.run(runner.Scrape, 1, tg); r.err != nil {
		t.Fatal(r.err)
	}
	path := generalPath(e, "myserver")
	before := mustRead(t, path)
	e.state.Guilds[0].Channels[0].ExportAs = randomID
	e.state.Guilds[0].Channels[0].Messages = []fMsg{{ID: "2000000000000000020"}}
	e.state.Guilds[0].Channels[1].Messages = append(e.state.Guilds[0].Channels[1].Messages, fMsg{ID: "2000000000000000060"})
	e.save()
	r := e.run(runner.Scrape, 1, tg)
	var cf *ChannelsFailedError
	if !errors.As(r.err, &cf) || len(cf.Channels) != 1 || !strings.Contains(cf.Channels[0], generalID) {
		t.Fatalf("err = %v, want ChannelsFailedError for %s", r.err, generalID)
	}
	if !slices.Equal(before, mustRead(t, path)) {
		t.Error("archive changed by a wrong-channel export")
	}
	if r.summary == nil || len(r.summary.Failed) != 1 || !strings.Contains(r.summary.Failed[0].Error, "not "+generalID) {
		t.Errorf("summary failures %+v", r.summary)
	}
	if c := entryFor(t, r.summary, randomID); c.Action != summary.Merged {
		t.Errorf("other channel not committed: %+v", c)
	}
}

func TestInvalidAndForeignArchives(t *testing.T) {
	e := newEnv(t, baseState())
	tg := e.guildTarget("myserver", guildID)
	dir := filepath.Join(e.archive, "myserver")
	invalid := filepath.Join(dir, "old name ["+generalID+"].json")
	writeFile(t, invalid, `{"guild": {"id": "1"}, "channel": {"id": "`+generalID+`"}, "messages": [ {"id": "5"`)
	// A valid document of channel random, named as the thread's archive.
	if r := e.run(runner.Scrape, 1, targets.Target{Name: "other", OutputDir: filepath.Join(e.archive, "other"), ChannelIDs: []string{randomID}}); r.err != nil {
		t.Fatal(r.err)
	}
	foreign := filepath.Join(dir, "sub", "x ["+threadID+"].json")
	writeFile(t, foreign, string(mustRead(t, filepath.Join(e.archive, "other", "My Server - Text - random ["+randomID+"].json"))))
	invalidBefore, foreignBefore := mustRead(t, invalid), mustRead(t, foreign)

	r := e.run(runner.Scrape, 1, tg)
	var cf *ChannelsFailedError
	if !errors.As(r.err, &cf) || len(cf.Channels) != 2 {
		t.Fatalf("err = %v, want 2 failed channels", r.err)
	}
	if !slices.Equal(invalidBefore, mustRead(t, invalid)) || !slices.Equal(foreignBefore, mustRead(t, foreign)) {
		t.Error("an invalid or foreign archive was modified")
	}
	// Both are refused before anything is downloaded for them.
	for _, id := range []string{generalID, threadID} {
		if got := e.exportsOf(id); len(got) != 0 {
			t.Errorf("channel %s with an unusable archive was exported: %q", id, got)
		}
	}
	failedIDs := []string{r.summary.Failed[0].ChannelID, r.summary.Failed[1].ChannelID}
	slices.Sort(failedIDs)
	if !slices.Equal(failedIDs, []string{generalID, threadID}) {
		t.Errorf("failed %v", r.summary.Failed)
	}
	for _, f := range r.summary.Failed {
		if f.FilePath != invalid && f.FilePath != foreign {
			t.Errorf("failure names %q, want the bad archive", f.FilePath)
		}
	}
	if c := entryFor(t, r.summary, randomID); c.Action != summary.Created {
		t.Errorf("random not committed: %+v", c)
	}
	if !strings.Contains(r.stdout, "FAILED") {
		t.Errorf("table lacks the failures:\n%s", r.stdout)
	}
}

func TestForbiddenAndForumSkipped(t *testing.T) {
	st := baseState()
	st.Guilds[0].Channels = append(st.Guilds[0].Channels,
		fChan{ID: "1000000000000000009", Name: "secret", Error: "forbidden"},
		fChan{ID: "1000000000000000010", Name: "hidden", Error: "forbidden_resolve"},
		fChan{ID: "1000000000000000011", Name: "forum", Forum: true})
	e := newEnv(t, st)
	tg := e.guildTarget("myserver", guildID)
	r := e.run(runner.Scrape, 1, tg)
	if r.err != nil {
		t.Fatalf("err = %v, want success with skipped channels", r.err)
	}
	for id, reason := range map[string]string{"1000000000000000009": "forbidden", "1000000000000000010": "forbidden", "1000000000000000011": "forum"} {
		if c := entryFor(t, r.summary, id); c.Action != summary.Skipped || c.Reason != reason || c.FilePath != summary.NA {
			t.Errorf("entry %+v, want SKIPPED %s", c, reason)
		}
	}
	if r.summary.Totals.Skipped != 3 || r.summary.Totals.Created != 3 {
		t.Errorf("totals %+v", r.summary.Totals)
	}
}

func TestKilledExportIsSalvagedNextRun(t *testing.T) {
	st := baseState()
	st.Guilds[0].Channels[0].Fault = &fFault{KillAfter: 2, Signal: "KILL"}
	e := newEnv(t, st)
	tg := e.guildTarget("myserver", guildID)
	r := e.run(runner.Scrape, 1, tg)
	var cf *ChannelsFailedError
	if !errors.As(r.err, &cf) || len(cf.Channels) != 1 || !strings.Contains(cf.Channels[0], "killed by signal 9") {
		t.Fatalf("err = %v, want the killed export reported", r.err)
	}
	if c := entryFor(t, r.summary, generalID); c.Action != summary.SkippedOOM {
		t.Errorf("entry %+v, want SKIPPED_OOM", c)
	}
	if r.summary.Totals.SkippedOOM != 1 || len(r.summary.Failed) != 0 {
		t.Errorf("totals %+v failed %+v", r.summary.Totals, r.summary.Failed)
	}
	partial := filepath.Join(e.archive, "myserver", TempDirName, generalID+".json")
	if _, err := os.Stat(partial); err != nil {
		t.Fatalf("partial export not kept: %v", err)
	}
	if _, err := os.Stat(generalPath(e, "myserver")); err == nil {
		t.Fatal("archive created from a killed export in the same run")
	}

	// Next run: the two complete messages are merged before the cursor is
	// computed, so only the rest is downloaded.
	e.state.Guilds[0].Channels[0].Fault = nil
	e.save()
	r = e.run(runner.Scrape, 1, tg)
	if r.err != nil {
		t.Fatal(r.err)
	}
	if got := e.exportsOf(generalID); !slices.Equal(got, []string{"", "2000000000000000001"}) {
		t.Errorf("--after values %q, want the salvaged messages not fetched again", got)
	}
	d := readArchive(t, generalPath(e, "myserver"))
	if diff := cmp.Diff(seq(2000000000000000000, 5), d.ids()); diff != "" {
		t.Errorf("ids (-want +got):\n%s", diff)
	}
	c := entryFor(t, r.summary, generalID)
	if c.Action != summary.Created || c.BeforeCount != 0 || c.FetchedCount != 5 || c.AfterCount != 5 || c.Delta != 5 {
		t.Errorf("entry %+v", c)
	}
	if left, _ := os.ReadDir(filepath.Join(e.archive, "myserver", TempDirName)); len(left) != 0 {
		t.Errorf(".dce-temp not empty: %v", left)
	}
}

func TestSalvageModeNeedsNoToken(t *testing.T) {
	st := baseState()
	e := newEnv(t, st)
	tg := e.guildTarget("myserver", guildID)
	if r := e.run(runner.Scrape, 1, tg); r.err != nil {
		t.Fatal(r.err)
	}
	// A killed run left a partial export with two new messages.
	e.state.Guilds[0].Channels[0].Messages = []fMsg{{ID: "2000000000000000010"}, {ID: "2000000000000000011"}, {ID: "2000000000000000012"}}
	e.state.Guilds[0].Channels[0].Fault = &fFault{KillAfter: 2, Signal: "KILL"}
	e.save()
	e.run(runner.Scrape, 1, tg)
	e.clearLog()

	l := e.local()
	l.NewDCE = func(runner.Request) (DCE, error) {
		t.Error("salvage asked for a DCE client")
		return nil, errors.New("no client")
	}
	r := e.runWith(l, runner.Salvage, "", 1, tg)
	if r.err != nil {
		t.Fatal(r.err)
	}
	if len(e.invocations()) != 0 {
		t.Errorf("salvage ran the DCE CLI: %v", e.invocations())
	}
	c := entryFor(t, r.summary, generalID)
	if c.Action != summary.Merged || c.BeforeCount != 5 || c.AfterCount != 7 || c.Delta != 2 {
		t.Errorf("entry %+v", c)
	}
	d := readArchive(t, generalPath(e, "myserver"))
	if got := d.ids(); len(got) != 7 || got[6] != "2000000000000000011" {
		t.Errorf("ids %v", got)
	}
}

func TestEmptyExportLeavesFileIdentical(t *testing.T) {
	for _, older := range []bool{false, true} {
		name := "current DCE"
		if older {
			name = "older DCE"
		}
		t.Run(name, func(t *testing.T) {
			e := newEnv(t, baseState())
			tg := e.guildTarget("myserver", guildID)
			if r := e.run(runner.Scrape, 1, tg); r.err != nil {
				t.Fatal(r.err)
			}
			e.state.OlderDCE = older
			e.save()
			path := generalPath(e, "myserver")
			before, _ := os.Stat(path)
			data := mustRead(t, path)
			r := e.run(runner.Scrape, 1, tg)
			if r.err != nil {
				t.Fatal(r.err)
			}
			after, _ := os.Stat(path)
			if !slices.Equal(data, mustRead(t, path)) || !before.ModTime().Equal(after.ModTime()) || !os.SameFile(before, after) {
				t.Error("archive rewritten by an empty export")
			}
			if c := entryFor(t, r.summary, generalID); c.Action != summary.Unchanged || c.BeforeCount != 5 || c.AfterCount != 5 {
				t.Errorf("entry %+v", c)
			}
		})
	}
}

func TestDiscoveryFixPicksUpNewChannels(t *testing.T) {
	e := newEnv(t, baseState())
	tg := e.guildTarget("myserver", guildID)
	if r := e.run(runner.Scrape, 1, tg); r.err != nil {
		t.Fatal(r.err)
	}
	// A new channel appears; an archived one is no longer listed.
	e.state.Guilds[0].Channels = append(e.state.Guilds[0].Channels[1:], fChan{ID: "1000000000000000042", Name: "new", Messages: []fMsg{{ID: "2000000000000000077"}}})
	e.save()
	e.clearLog()
	r := e.run(runner.Scrape, 1, tg)
	if r.err != nil {
		t.Fatal(r.err)
	}
	if c := entryFor(t, r.summary, "1000000000000000042"); c.Action != summary.Created {
		t.Errorf("new channel %+v", c)
	}
	// The archived channel that is no longer listed is still tried (the
	// fake now says not found: skipped, archive kept).
	if c := entryFor(t, r.summary, generalID); c.Action != summary.Skipped || c.Reason != dce.ReasonNotFound || c.FilePath != generalPath(e, "myserver") {
		t.Errorf("unlisted archived channel %+v", c)
	}
}

func TestChannelMapKeptAndConfined(t *testing.T) {
	e := newEnv(t, baseState())
	tg := e.guildTarget("myserver", guildID)
	dir := filepath.Join(e.archive, "myserver")
	// The operator moved general's archive into a folder and renamed it;
	// the map knows where. Another entry points outside output_dir.
	if r := e.run(runner.Scrape, 1, tg); r.err != nil {
		t.Fatal(r.err)
	}
	moved := filepath.Join(dir, "kept", "general-archive.json")
	if err := os.MkdirAll(filepath.Dir(moved), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(generalPath(e, "myserver"), moved); err != nil {
		t.Fatal(err)
	}
	outside := filepath.Join(e.root, "outside ["+randomID+"].json")
	writeFile(t, outside, "not touched")
	if err := os.Remove(filepath.Join(dir, "My Server - Text - random ["+randomID+"].json")); err != nil {
		t.Fatal(err)
	}
	m := readChannelMap(t, dir)
	m[generalID] = moved
	m[randomID] = outside
	m["1000000000000000099"] = filepath.Join(dir, "..", "..", "escape ["+"1000000000000000099"+"].json")
	data, _ := jsonMarshal(m)
	writeFile(t, filepath.Join(dir, MetaDirName, ChannelMapName), string(data))

	e.state.Guilds[0].Channels[0].Messages = []fMsg{{ID: "2000000000000000010"}}
	e.save()
	r := e.run(runner.Scrape, 1, tg)
	if r.err != nil {
		t.Fatal(r.err)
	}
	if c := entryFor(t, r.summary, generalID); c.Action != summary.Merged || c.FilePath != moved {
		t.Errorf("general %+v, want merged into %s", c, moved)
	}
	if got := mustRead(t, outside); string(got) != "not touched" {
		t.Errorf("file outside output_dir changed: %q", got)
	}
	m = readChannelMap(t, dir)
	wantRandom := filepath.Join(dir, "My Server - Text - random ["+randomID+"].json")
	if m[generalID] != moved || m[randomID] != wantRandom || len(m) != 3 {
		t.Errorf("channel map %v", m)
	}
	if !strings.Contains(r.stderr, "outside output_dir") {
		t.Errorf("no warning about the map entry outside output_dir:\n%s", r.stderr)
	}
}

func TestNothingWrittenOutsideOutputDirAndNoTokenLeak(t *testing.T) {
	st := baseState()
	st.Guilds[0].Channels = append(st.Guilds[0].Channels, fChan{ID: "1000000000000000009", Name: "secret", Error: "forbidden"})
	e := newEnv(t, st)
	tg := e.guildTarget("myserver", guildID)
	// A sibling target's files and a file in archive_root must not change.
	writeFile(t, filepath.Join(e.archive, "sibling", "x ["+generalID+"].json"), "sibling")
	writeFile(t, filepath.Join(e.archive, "notes.txt"), "notes")
	// Excluded: the target's output_dir, and the test's own files.
	testFiles := []string{filepath.Join(e.archive, "myserver"), e.logPath, e.statePath, filepath.Join(e.root, "summary.json")}
	outsideBefore := snapshotExcept(t, e.root, testFiles...)

	for i := 0; i < 2; i++ {
		r := e.run(runner.Scrape, 2, tg)
		if r.err != nil {
			t.Fatal(r.err)
		}
		if strings.Contains(r.stdout+r.stderr, testToken) {
			t.Error("token in the run's output")
		}
		e.state.Guilds[0].Channels[0].Messages = []fMsg{{ID: "2000000000000000010"}}
		e.save()
	}
	if diff := cmp.Diff(outsideBefore, snapshotExcept(t, e.root, testFiles...)); diff != "" {
		t.Errorf("files outside output_dir changed (-before +after):\n%s", diff)
	}
	for path, content := range snapshotExcept(t, e.root, e.statePath) {
		if strings.Contains(content, testToken) {
			t.Errorf("token written to %s", path)
		}
	}
	invs := e.invocations()
	if len(invs) == 0 {
		t.Fatal("fake never ran")
	}
	for _, inv := range invs {
		if !inv.TokenSet {
			t.Errorf("%v ran without DISCORD_TOKEN", inv.Argv)
		}
		for _, a := range inv.Argv {
			if strings.Contains(a, testToken) {
				t.Errorf("token in argv %v", inv.Argv)
			}
		}
	}
}

func TestAuthFailureStopsRun(t *testing.T) {
	e := newEnv(t, baseState())
	tg := e.guildTarget("myserver", guildID)
	r := e.runWith(e.local(), runner.Scrape, "expired-token", 1, tg)
	var ae *dce.AuthError
	if !errors.As(r.err, &ae) {
		t.Fatalf("err = %v, want *dce.AuthError", r.err)
	}
	if got := snapshot(t, filepath.Join(e.archive, "myserver")); len(got) != 0 {
		t.Errorf("files written after an auth failure: %v", got)
	}
	// Rejected while exporting (the listing worked): still an auth error.
	e.state.Fault = &fFault{Command: "export", ExitCode: 1, Stderr: "DiscordChatExporter.Core.Exceptions.DiscordChatExporterException: Authentication token is invalid.\n   at X\n"}
	e.save()
	r = e.run(runner.Scrape, 2, tg)
	if !errors.As(r.err, &ae) {
		t.Fatalf("err = %v, want *dce.AuthError", r.err)
	}
}

func TestOtherDCEFailureFailsChannelOnly(t *testing.T) {
	st := baseState()
	st.Guilds[0].Channels[0].Fault = &fFault{ExitCode: 1, Stderr: "Request to 'https://discord.com/api/v10/channels/1' failed: internal server error.\n"}
	e := newEnv(t, st)
	tg := e.guildTarget("myserver", guildID)
	r := e.run(runner.Scrape, 1, tg)
	var cf *ChannelsFailedError
	if !errors.As(r.err, &cf) || len(r.summary.Failed) != 1 || !strings.Contains(r.summary.Failed[0].Error, "internal server error") {
		t.Fatalf("err = %v, summary %+v", r.err, r.summary)
	}
	if c := entryFor(t, r.summary, randomID); c.Action != summary.Created {
		t.Errorf("random %+v", c)
	}
}

func TestParallelMatchesSerial(t *testing.T) {
	build := func() fState {
		st := baseState()
		for i := 0; i < 6; i++ {
			id := seq(1000000000000000100, 6)[i]
			st.Guilds[0].Channels = append(st.Guilds[0].Channels, fChan{ID: id, Name: "c" + id, Generate: &fGen{Count: 3 + i, FirstID: "3000000000000000000"}})
		}
		return st
	}
	serial := newEnv(t, build())
	par := newEnv(t, build())
	rs := serial.run(runner.Scrape, 1, serial.guildTarget("myserver", guildID))
	rp := par.run(runner.Scrape, 4, par.guildTarget("myserver", guildID))
	if rs.err != nil || rp.err != nil {
		t.Fatal(rs.err, rp.err)
	}
	strip := func(s *summary.Summary, root string) []summary.Channel {
		var out []summary.Channel
		for _, c := range s.Channels {
			c.FilePath = strings.TrimPrefix(c.FilePath, root)
			out = append(out, c)
		}
		return out
	}
	if diff := cmp.Diff(strip(rs.summary, serial.archive), strip(rp.summary, par.archive)); diff != "" {
		t.Errorf("parallel summary differs (-serial +parallel):\n%s", diff)
	}
	a, b := snapshot(t, filepath.Join(serial.archive, "myserver")), snapshot(t, filepath.Join(par.archive, "myserver"))
	delete(a, filepath.Join(MetaDirName, ChannelMapName))
	delete(b, filepath.Join(MetaDirName, ChannelMapName))
	for k := range a {
		if strings.HasPrefix(k, MetaDirName) {
			delete(a, k)
		}
	}
	for k := range b {
		if strings.HasPrefix(k, MetaDirName) {
			delete(b, k)
		}
	}
	if diff := cmp.Diff(a, b); diff != "" {
		t.Errorf("parallel archives differ (-serial +parallel):\n%s", diff)
	}
}

func TestGuildNamePatterns(t *testing.T) {
	st := baseState()
	st.Guilds = append(st.Guilds, fGuild{ID: "42", Name: "Other Place", Channels: []fChan{{ID: "4200", Name: "x"}}})
	e := newEnv(t, st)
	tg := targets.Target{Name: "p", OutputDir: filepath.Join(e.archive, "p"), GuildNamePatterns: []string{"my-server!"}, IncludeThreads: targets.ThreadsNone}
	e.cfg.Targets = append(e.cfg.Targets, tg)
	r := e.run(runner.Scrape, 1, tg)
	if r.err != nil {
		t.Fatal(r.err)
	}
	var ids []string
	for _, c := range r.summary.Channels {
		ids = append(ids, c.ChannelID)
	}
	if !slices.Equal(ids, []string{generalID, randomID}) {
		t.Errorf("channels %v, want My Server's channels without threads", ids)
	}

	amb := targets.Target{Name: "amb", OutputDir: filepath.Join(e.archive, "amb"), GuildNamePatterns: []string{"e"}}
	r = e.run(runner.Scrape, 1, amb)
	var ue *failure.UsageError
	if !errors.As(r.err, &ue) || !containsAll(r.err.Error(), "amb", "match 2 guilds") {
		t.Fatalf("err = %v, want a usage error naming the target", r.err)
	}
	if got := snapshot(t, filepath.Join(e.archive, "amb")); len(got) != 0 {
		t.Errorf("ambiguous target wrote %v", got)
	}
}

func TestNarrowingAndVoice(t *testing.T) {
	st := baseState()
	st.Guilds[0].Channels = append(st.Guilds[0].Channels, fChan{ID: "1000000000000000007", Name: "Lounge", Voice: true, Messages: []fMsg{{ID: "2000000000000000090"}}})
	e := newEnv(t, st)
	tg := e.guildTarget("myserver", guildID)
	tg.IncludeThreads = targets.ThreadsNone
	r := e.run(runner.Scrape, 1, tg)
	if r.err != nil {
		t.Fatal(r.err)
	}
	if len(r.summary.Channels) != 2 {
		t.Errorf("voice or threads exported without include_*: %+v", r.summary.Channels)
	}
	tg.IncludeVoiceChannels = true
	tg.OnlyChannels = []string{"1000000000000000007"}
	r = e.run(runner.Scrape, 1, tg)
	if r.err != nil {
		t.Fatal(r.err)
	}
	if len(r.summary.Channels) != 1 || r.summary.Channels[0].ChannelID != "1000000000000000007" || r.summary.Channels[0].Action != summary.Created {
		t.Errorf("--channel narrowing: %+v", r.summary.Channels)
	}
}

func TestDMTarget(t *testing.T) {
	st := fState{DMs: []fChan{{ID: "20", Name: "friend", Category: "Private", Messages: []fMsg{{ID: "2000000000000000001"}}}, {ID: "21", Name: "group chat"}}}
	e := newEnv(t, st)
	tg := targets.Target{Name: "dms", Kind: targets.DMs, OutputDir: filepath.Join(e.archive, "dms")}
	r := e.run(runner.Scrape, 1, tg)
	if r.err != nil {
		t.Fatal(r.err)
	}
	if c := entryFor(t, r.summary, "20"); c.Action != summary.Created || c.GuildLabel != "Direct Messages [0]" ||
		c.FilePath != filepath.Join(e.archive, "dms", "Direct Messages - Private - friend [20].json") {
		t.Errorf("entry %+v", c)
	}
	if c := entryFor(t, r.summary, "21"); c.Action != summary.Created || c.AfterCount != 0 {
		t.Errorf("empty DM %+v", c)
	}
}

func TestPreflightTouchesNoArchive(t *testing.T) {
	st := baseState()
	st.Guilds[0].Channels = append(st.Guilds[0].Channels, fChan{ID: "1000000000000000009", Name: "secret", Error: "forbidden"})
	e := newEnv(t, st)
	tg := e.guildTarget("myserver", guildID)
	if r := e.run(runner.Scrape, 1, tg); r.err != nil {
		t.Fatal(r.err)
	}
	e.state.Guilds[0].Channels[0].Messages = []fMsg{{ID: "2000000000000000010"}}
	e.save()
	snap := snapshot(t, e.archive)
	e.clearLog()
	r := e.run(runner.Preflight, 2, tg)
	if r.err != nil {
		t.Fatalf("preflight: %v", r.err)
	}
	if diff := cmp.Diff(snap, snapshot(t, e.archive)); diff != "" {
		t.Errorf("preflight changed the archive root (-before +after):\n%s", diff)
	}
	now := "1512063369216000000" // (2026-06-04T12:00:00Z - Discord epoch in ms = 360504000000) << 22
	for _, id := range []string{generalID, randomID, threadID} {
		if got := e.exportsOf(id); !slices.Equal(got, []string{now}) {
			t.Errorf("channel %s exported with --after %q, want %s", id, got, now)
		}
	}
	if !containsAll(r.stdout, generalID, "OK", "SKIPPED (forbidden)") {
		t.Errorf("preflight report:\n%s", r.stdout)
	}
	if left, _ := os.ReadDir(filepath.Join(e.root, "tmp")); len(left) != 0 {
		t.Errorf("preflight left %v", left)
	}

	bad := e.runWith(e.local(), runner.Preflight, "expired-token", 1, tg)
	var ae *dce.AuthError
	if !errors.As(bad.err, &ae) {
		t.Errorf("preflight with a bad token: %v", bad.err)
	}
}

func TestArchiveName(t *testing.T) {
	tests := []struct{ guild, cat, ch, id, want string }{
		{"My Server", "Text", "general", "1", "My Server - Text - general [1].json"},
		{"A/B", "", "c\\d", "2", "A_B - c_d [2].json"},
		{"  lots \t of\n\nspace ", "x\x00y", "z", "3", "lots of space - x y - z [3].json"},
		{"", "", "", "4", "[4].json"},
	}
	for _, tt := range tests {
		if got := ArchiveName(tt.guild, tt.cat, tt.ch, tt.id); got != tt.want {
			t.Errorf("ArchiveName(%q, %q, %q) = %q, want %q", tt.guild, tt.cat, tt.ch, got, tt.want)
		}
	}
	long := ArchiveName(strings.Repeat("é", 200), "", "c", "1000000000000000001")
	if len(long) > 255 || !strings.HasSuffix(long, " [1000000000000000001].json") {
		t.Errorf("long name %d bytes: %q", len(long), long)
	}
}

func TestMatchGuilds(t *testing.T) {
	guilds := []dce.Guild{{ID: "0", Name: "Direct Messages"}, {ID: "1", Name: "My Server!"}, {ID: "2", Name: "Server Two"}}
	if got := MatchGuilds(guilds, []string{"MY server"}); len(got) != 1 || got[0].ID != "1" {
		t.Errorf("exact match: %v", got)
	}
	if got := MatchGuilds(guilds, []string{"server"}); len(got) != 2 {
		t.Errorf("contained: %v", got)
	}
	if got := MatchGuilds(guilds, []string{"direct"}); len(got) != 0 {
		t.Errorf("DM pseudo-guild matched: %v", got)
	}
}
