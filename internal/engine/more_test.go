package engine

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/dcehost/dcehost/internal/failure"
	"github.com/dcehost/dcehost/internal/progress"
	"github.com/dcehost/dcehost/internal/runner"
	"github.com/dcehost/dcehost/internal/settings"
	"github.com/dcehost/dcehost/internal/summary"
	"github.com/dcehost/dcehost/internal/targets"
)

// The zero Local finds the CLI through DCE_CLI_BIN and gives it the token
// in its environment.
func TestZeroLocalUsesDCECLIBin(t *testing.T) {
	e := newEnv(t, baseState())
	tg := e.guildTarget("myserver", guildID)
	t.Setenv("FAKEDCE_STATE", e.statePath)
	t.Setenv("FAKEDCE_LOG", e.logPath)
	t.Setenv("DISCORD_TOKEN", "stale-token-from-the-parent")
	s, err := settings.Load(settings.LoadOptions{Environ: []string{settings.CLIBinVar + "=" + fakeBin}, WorkDir: e.root})
	if err != nil {
		t.Fatal(err)
	}
	l := &Local{}
	req := runner.Request{Mode: runner.Scrape, Settings: s, Config: e.cfg, Targets: []targets.Target{tg}, Token: testToken}
	if err := l.Prepare(req); err != nil {
		t.Fatal(err)
	}
	ios, out, errOut := testStreams()
	req.IO = ios
	if err := l.Run(t.Context(), req); err != nil {
		t.Fatalf("run: %v\n%s", err, errOut)
	}
	if !strings.Contains(out.String(), "CREATED") {
		t.Errorf("table:\n%s", out)
	}

	missing, err := settings.Load(settings.LoadOptions{Environ: []string{settings.CLIBinVar + "=" + filepath.Join(e.root, "nope")}, WorkDir: e.root})
	if err != nil {
		t.Fatal(err)
	}
	req.Settings = missing
	var ue *failure.UsageError
	if err := l.Prepare(req); !errors.As(err, &ue) || !strings.Contains(err.Error(), settings.CLIBinVar) {
		t.Errorf("Prepare with a missing CLI: %v", err)
	}
	if err := l.Run(t.Context(), req); !errors.As(err, &ue) {
		t.Errorf("Run with a missing CLI: %v", err)
	}
	// Salvage needs no CLI.
	req.Mode, req.Token = runner.Salvage, ""
	if err := l.Prepare(req); err != nil {
		t.Errorf("Prepare salvage: %v", err)
	}
}

func TestThreadsActiveOnly(t *testing.T) {
	st := baseState()
	st.Guilds[0].Channels[0].Threads = append(st.Guilds[0].Channels[0].Threads, fChan{ID: "1000000000000000004", Name: "old", Archived: true})
	e := newEnv(t, st)
	tg := e.guildTarget("myserver", guildID)
	tg.IncludeThreads = targets.ThreadsActive
	r := e.run(runner.Scrape, 1, tg)
	if r.err != nil {
		t.Fatal(r.err)
	}
	entryFor(t, r.summary, threadID)
	for _, c := range r.summary.Channels {
		if c.ChannelID == "1000000000000000004" {
			t.Errorf("archived thread exported with include_threads=active: %+v", c)
		}
	}
	tg.IncludeThreads = targets.ThreadsAll
	r = e.run(runner.Scrape, 1, tg)
	if c := entryFor(t, r.summary, "1000000000000000004"); r.err != nil || c.Action != summary.Created {
		t.Errorf("include_threads=all: %v %+v", r.err, c)
	}
}

func TestTwoArchivesForOneChannelFail(t *testing.T) {
	e := newEnv(t, baseState())
	tg := e.guildTarget("myserver", guildID)
	if r := e.run(runner.Scrape, 1, tg); r.err != nil {
		t.Fatal(r.err)
	}
	// A copy with the same id elsewhere, and a map that does not decide.
	dir := filepath.Join(e.archive, "myserver")
	copyPath := filepath.Join(dir, "copy", "general ["+generalID+"].json")
	writeFile(t, copyPath, string(mustRead(t, generalPath(e, "myserver"))))
	if err := os.Remove(filepath.Join(dir, MetaDirName, ChannelMapName)); err != nil {
		t.Fatal(err)
	}
	r := e.run(runner.Scrape, 1, tg)
	var cf *ChannelsFailedError
	if !errors.As(r.err, &cf) || len(r.summary.Failed) != 1 || !strings.Contains(r.summary.Failed[0].Error, "has 2 archives") {
		t.Fatalf("err %v summary %+v", r.err, r.summary)
	}
	// Naming one in the channel map settles it.
	writeFile(t, filepath.Join(dir, MetaDirName, ChannelMapName), `{"`+generalID+`": "`+copyPath+`"}`)
	r = e.run(runner.Scrape, 1, tg)
	if c := entryFor(t, r.summary, generalID); r.err != nil || c.FilePath != copyPath {
		t.Errorf("err %v entry %+v", r.err, c)
	}
}

func TestStaleMergeTempsRemoved(t *testing.T) {
	e := newEnv(t, baseState())
	tg := e.guildTarget("myserver", guildID)
	if r := e.run(runner.Scrape, 1, tg); r.err != nil {
		t.Fatal(r.err)
	}
	path := generalPath(e, "myserver")
	stale := filepath.Join(filepath.Dir(path), "."+filepath.Base(path)+".dcehost-tmp-123456")
	writeFile(t, stale, `{"half": `)
	staleSalvage := filepath.Join(e.archive, "myserver", TempDirName, "."+generalID+".salvaged.json.dcehost-tmp-99")
	writeFile(t, staleSalvage, `{`)
	if r := e.run(runner.Scrape, 1, tg); r.err != nil {
		t.Fatal(r.err)
	}
	for _, p := range []string{stale, staleSalvage} {
		if _, err := os.Stat(p); !os.IsNotExist(err) {
			t.Errorf("%s not removed: %v", p, err)
		}
	}
}

func TestUnusableLeftoverDiscarded(t *testing.T) {
	e := newEnv(t, baseState())
	tg := e.guildTarget("myserver", guildID)
	if r := e.run(runner.Scrape, 1, tg); r.err != nil {
		t.Fatal(r.err)
	}
	tmp := filepath.Join(e.archive, "myserver", TempDirName)
	// Cut inside the first message: nothing to keep.
	writeFile(t, filepath.Join(tmp, generalID+".json"), "{\n  \"guild\": {\"id\": \"1\", \"name\": \"G\"},\n  \"channel\": {\"id\": \""+generalID+"\"},\n  \"messages\": [\n    {\n      \"id\": \"300")
	// A leftover of another channel under this channel's name.
	other := string(mustRead(t, filepath.Join(e.archive, "myserver", "My Server - Text - random ["+randomID+"].json")))
	writeFile(t, filepath.Join(tmp, threadID+".json"), other)
	r := e.run(runner.Scrape, 1, tg)
	if r.err != nil {
		t.Fatal(r.err)
	}
	if left, _ := os.ReadDir(tmp); len(left) != 0 {
		t.Errorf("leftovers kept: %v", left)
	}
	for _, c := range r.summary.Channels {
		if c.Action != summary.Unchanged {
			t.Errorf("%+v", c)
		}
	}
}

func FuzzArchiveName(f *testing.F) {
	f.Add("My Server", "Text", "general", uint64(1000000000000000001))
	f.Add("a/b\\c", "\x00\t\n", "  ", uint64(0))
	f.Fuzz(func(t *testing.T, guild, category, channel string, id uint64) {
		sid := strings.TrimSpace(strings.Repeat(" ", 0) + uitoa(id))
		name := ArchiveName(guild, category, channel, sid)
		if len(name) > maxNameBytes {
			t.Fatalf("%d bytes: %q", len(name), name)
		}
		if strings.ContainsAny(name, "/\\\x00\n\r\t") {
			t.Fatalf("unsafe character in %q", name)
		}
		if !strings.HasSuffix(name, "["+sid+"].json") || archiveNameRe.FindStringSubmatch(name)[1] != sid {
			t.Fatalf("%q does not end in [%s].json", name, sid)
		}
		if strings.HasPrefix(name, " ") || strings.Contains(name, "  ") {
			t.Fatalf("whitespace not collapsed in %q", name)
		}
		if utf8.ValidString(guild+category+channel) && !utf8.ValidString(name) {
			t.Fatalf("cut inside a character: %q", name)
		}
	})
}

func TestProgressCounts(t *testing.T) {
	e := newEnv(t, baseState())
	tg := e.guildTarget("myserver", guildID)
	l := e.local()
	ios, _, _ := testStreams()
	l.Progress = progress.New(ios.ErrOut, false, nil)
	r := e.runWith(l, runner.Scrape, testToken, 2, tg)
	if r.err != nil {
		t.Fatal(r.err)
	}
	done, total, appended := l.Progress.Counts()
	if done != 3 || total != 3 || appended != 8 {
		t.Errorf("progress counts %d/%d, %d appended; want 3/3, 8", done, total, appended)
	}
}

// An archive written by another tool: messages out of order, CRLF line
// ends, another UTC offset, no messageCount. The cursor is its largest id
// and the merge keeps every message.
func TestUnorderedForeignToolArchive(t *testing.T) {
	st := fState{Guilds: []fGuild{{ID: guildID, Name: "G", Channels: []fChan{{ID: generalID, Name: "general",
		Messages: []fMsg{{ID: "2000000000000000003"}, {ID: "2000000000000000009"}, {ID: "2000000000000000005"}, {ID: "2000000000000000012"}}}}}}}
	e := newEnv(t, st)
	tg := e.guildTarget("g", guildID)
	msg := func(id, ts string) string {
		return "    {\r\n      \"id\": \"" + id + "\",\r\n      \"type\": \"Default\",\r\n      \"timestamp\": \"" + ts +
			"\",\r\n      \"content\": \"old " + id + "\",\r\n      \"author\": {\"id\": \"1\", \"name\": \"a\"}\r\n    }"
	}
	doc := "{\r\n  \"guild\": {\"id\": \"" + guildID + "\", \"name\": \"G\"},\r\n  \"channel\": {\"id\": \"" + generalID + "\", \"name\": \"general\"},\r\n" +
		"  \"dateRange\": {\"after\": null, \"before\": null},\r\n  \"messages\": [\r\n" +
		msg("2000000000000000009", "2021-07-14T23:00:00+02:00") + ",\r\n" +
		msg("2000000000000000003", "2021-07-14T21:00:00+00:00") + ",\r\n" +
		msg("2000000000000000005", "2021-07-14T16:00:00-05:00") + "\r\n  ]\r\n}\r\n"
	path := filepath.Join(tg.OutputDir, "desktop export ["+generalID+"].json")
	writeFile(t, path, doc)
	r := e.run(runner.Scrape, 1, tg)
	if r.err != nil {
		t.Fatal(r.err)
	}
	if got := e.exportsOf(generalID); len(got) != 1 || got[0] != "2000000000000000009" {
		t.Errorf("--after %q, want the largest id 2000000000000000009", got)
	}
	c := entryFor(t, r.summary, generalID)
	if c.Action != summary.Merged || c.BeforeCount != 3 || c.FetchedCount != 1 || c.AfterCount != 4 || c.FilePath != path {
		t.Errorf("entry %+v", c)
	}
	ids := readArchive(t, path).ids()
	for _, want := range []string{"2000000000000000003", "2000000000000000005", "2000000000000000009", "2000000000000000012"} {
		if !slices.Contains(ids, want) {
			t.Errorf("archive lacks %s: %v", want, ids)
		}
	}
	if data := string(mustRead(t, path)); !strings.Contains(data, msg("2000000000000000005", "2021-07-14T16:00:00-05:00")) {
		t.Errorf("an archived message's bytes changed:\n%s", data)
	}
}
