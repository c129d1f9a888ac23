package archive

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	dcearchive "github.com/dcehost/dcehost/internal/archive"
	"github.com/dcehost/dcehost/internal/archive/archivetest"
	"github.com/dcehost/dcehost/internal/cli/factory"
	"github.com/dcehost/dcehost/internal/engine"
	"github.com/dcehost/dcehost/internal/failure"
	"github.com/dcehost/dcehost/internal/iostreams"
	"github.com/dcehost/dcehost/internal/settings"
)

const channel = "200000000000000002"

var first = archivetest.Snowflake(archivetest.SnowflakeTime(1<<60), 0)

func archiveName(dir string) string {
	return filepath.Join(dir, "Guild - general ["+channel+"].json")
}

func write(t *testing.T, path string, o archivetest.Options) []byte {
	t.Helper()
	if _, err := archivetest.WriteFile(path, o); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestNewCmdMergeFlags(t *testing.T) {
	tests := []struct {
		args    []string
		want    MergeOptions
		wantErr string
	}{
		{args: []string{"a.json", "e.json"}, want: MergeOptions{Archive: "a.json", Export: "e.json"}},
		{args: []string{"--dry-run", "--json", "--channel", "123", "--meta-dir", "m", "a.json", "e.json"},
			want: MergeOptions{Archive: "a.json", Export: "e.json", ChannelID: "123", MetaDir: "m", DryRun: true, JSON: true}},
		{args: []string{"a.json"}, wantErr: "accepts 2 arg(s)"},
		{args: []string{"--channel", "abc", "a.json", "e.json"}, wantErr: "--channel"},
	}
	for _, tt := range tests {
		f := &factory.Factory{}
		f.IO, _, _, _ = iostreams.Test()
		var got *MergeOptions
		cmd := NewCmdMerge(f, func(o *MergeOptions) error { got = o; return nil })
		cmd.SetArgs(tt.args)
		cmd.SetOut(&bytes.Buffer{})
		cmd.SetErr(&bytes.Buffer{})
		err := cmd.Execute()
		if tt.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("%v: err %v, want %q", tt.args, err, tt.wantErr)
			}
			continue
		}
		if err != nil {
			t.Fatalf("%v: %v", tt.args, err)
		}
		got.IO = nil
		if diff := cmp.Diff(tt.want, *got); diff != "" {
			t.Errorf("%v: options (-want +got):\n%s", tt.args, diff)
		}
	}
}

func TestRunMerge(t *testing.T) {
	dir := t.TempDir()
	ap := archiveName(dir)
	old := write(t, ap, archivetest.Options{Seed: 1, Messages: 5, FirstID: first})
	var st archivetest.Stats
	ep := filepath.Join(dir, "export.json")
	st, err := archivetest.WriteFile(ep, archivetest.Options{Seed: 2, Messages: 3, FirstID: archivetest.Next(1 << 61)})
	if err != nil {
		t.Fatal(err)
	}

	// dry run, JSON
	io, _, out, _ := iostreams.Test()
	if err := runMerge(&MergeOptions{IO: io, Archive: ap, Export: ep, DryRun: true, JSON: true}); err != nil {
		t.Fatal(err)
	}
	var res mergeOutput
	if err := json.Unmarshal(out.Bytes(), &res); err != nil {
		t.Fatalf("--json output: %v\n%s", err, out)
	}
	want := mergeOutput{Archive: ap, Export: ep, DryRun: true, Action: "MERGED", BeforeCount: 5, FetchedCount: 3, AfterCount: 8, Appended: 3, MaxID: jsonID(st.MaxID)}
	if res != want {
		t.Errorf("dry run result %+v, want %+v", res, want)
	}
	if b, _ := os.ReadFile(ap); !bytes.Equal(b, old) {
		t.Fatal("dry run changed the archive")
	}

	// the merge itself, text
	io, _, out, _ = iostreams.Test()
	if err := runMerge(&MergeOptions{IO: io, Archive: ap, Export: ep}); err != nil {
		t.Fatal(err)
	}
	if got := out.String(); !strings.HasPrefix(got, "MERGED: 5 -> 8 messages (3 in the export, 3 appended, 0 replaced)") {
		t.Errorf("output %q", got)
	}
	if rep, err := dcearchive.Verify(ap); err != nil || !rep.OK() || rep.Messages != 8 {
		t.Errorf("merged archive: %+v %v", rep, err)
	}
	if _, err := os.Stat(ep); err != nil {
		t.Errorf("the export was consumed: %v", err)
	}
}

func jsonID(id uint64) string { b, _ := json.Marshal(id); return string(b) }

func TestRunMergeCreateKeepsExport(t *testing.T) {
	dir := t.TempDir()
	ap := archiveName(dir)
	ep := filepath.Join(dir, "export.json")
	exp := write(t, ep, archivetest.Options{Seed: 2, Messages: 3, FirstID: first})
	io, _, out, _ := iostreams.Test()
	if err := runMerge(&MergeOptions{IO: io, Archive: ap, Export: ep}); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(out.String(), "CREATED: 0 -> 3") {
		t.Errorf("output %q", out)
	}
	a, _ := os.ReadFile(ap)
	e, _ := os.ReadFile(ep)
	if !bytes.Equal(a, exp) || !bytes.Equal(e, exp) {
		t.Error("create: archive must equal the export, and the export stay")
	}
}

func TestRunMergeRefuses(t *testing.T) {
	dir := t.TempDir()
	ap := archiveName(dir)
	old := write(t, ap, archivetest.Options{Seed: 1, Messages: 2, FirstID: first})
	other := filepath.Join(dir, "other.json")
	write(t, other, archivetest.Options{Seed: 2, Messages: 1, ChannelID: 999, FirstID: archivetest.Next(1 << 61)})
	tests := []struct {
		name     string
		export   string
		wantCode string // "usage" | "channels"
		wantMsg  string
	}{
		{"export of another channel", other, "channels", "channel 999"},
		{"missing export", filepath.Join(dir, "nope.json"), "usage", "nope.json"},
		{"export is a directory", dir, "usage", "is a directory"},
	}
	for _, tt := range tests {
		io, _, _, _ := iostreams.Test()
		err := runMerge(&MergeOptions{IO: io, Archive: ap, Export: tt.export})
		var cf *engine.ChannelsFailedError
		switch tt.wantCode {
		case "usage":
			if !failure.IsUsage(err) {
				t.Errorf("%s: err %v, want a usage error", tt.name, err)
			}
		case "channels":
			if !errors.As(err, &cf) {
				t.Errorf("%s: err %v, want *engine.ChannelsFailedError (exit 7)", tt.name, err)
			}
		}
		if err == nil || !strings.Contains(err.Error(), tt.wantMsg) {
			t.Errorf("%s: err %v, want it to say %q", tt.name, err, tt.wantMsg)
		}
		if b, _ := os.ReadFile(ap); !bytes.Equal(b, old) {
			t.Errorf("%s: archive changed", tt.name)
		}
	}
}

func TestRunVerify(t *testing.T) {
	root := t.TempDir()
	out1 := filepath.Join(root, "one")
	out2 := filepath.Join(root, "two")
	for _, d := range []string{out1, filepath.Join(out1, "sub"), filepath.Join(out1, ".dce-temp"), out2} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	good := archiveName(out1)
	write(t, good, archivetest.Options{Seed: 1, Messages: 3, FirstID: first})
	nested := filepath.Join(out1, "sub", "Guild - other [300000000000000003].json")
	write(t, nested, archivetest.Options{Seed: 1, Messages: 2, ChannelID: 300000000000000003, FirstID: first})
	// Not archives: a partial export in .dce-temp, a file without an id.
	write(t, filepath.Join(out1, ".dce-temp", "x ["+channel+"].json"), archivetest.Options{Seed: 1, Messages: 1})
	write(t, filepath.Join(out1, "notes.json"), archivetest.Options{Seed: 1, Messages: 1})
	bad := filepath.Join(out2, "Guild - broken [400000000000000004].json")
	b := write(t, bad, archivetest.Options{Seed: 1, Messages: 3, ChannelID: 400000000000000004, FirstID: first})
	if err := os.WriteFile(bad, b[:len(b)/2], 0o644); err != nil {
		t.Fatal(err)
	}
	wrongCount := filepath.Join(out2, "Guild - count [500000000000000005].json")
	b = write(t, wrongCount, archivetest.Options{Seed: 1, Messages: 3, ChannelID: 500000000000000005, FirstID: first})
	if err := os.WriteFile(wrongCount, bytes.Replace(b, []byte(`"messageCount": 3`), []byte(`"messageCount": 4`), 1), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg := filepath.Join(root, "targets.json")
	cfgJSON := `{"archive_root": "` + root + `", "targets": [
		{"name": "one", "output_dir": "` + out1 + `", "guild_ids": ["100000000000000001"]},
		{"name": "two", "output_dir": "` + out2 + `", "guild_ids": ["100000000000000002"], "enabled": false},
		{"name": "three", "output_dir": "` + filepath.Join(root, "missing") + `", "guild_ids": ["100000000000000003"]}]}`
	if err := os.WriteFile(cfg, []byte(cfgJSON), 0o644); err != nil {
		t.Fatal(err)
	}
	loadSettings := func(map[string]string) (*settings.Settings, error) { return &settings.Settings{ConfigFile: cfg}, nil }

	tests := []struct {
		name      string
		paths     []string
		wantOK    []string
		wantFail  []string
		wantError bool
	}{
		{name: "explicit file", paths: []string{good}, wantOK: []string{good}},
		{name: "explicit directory", paths: []string{out1}, wantOK: []string{good, nested}},
		{name: "configured targets", wantOK: []string{good, nested}, wantFail: []string{bad, wrongCount}, wantError: true},
		{name: "explicit bad file", paths: []string{wrongCount}, wantFail: []string{wrongCount}, wantError: true},
	}
	for _, tt := range tests {
		io, _, out, _ := iostreams.Test()
		err := runVerify(&VerifyOptions{IO: io, Settings: loadSettings, Paths: tt.paths})
		var cf *engine.ChannelsFailedError
		if tt.wantError != errors.As(err, &cf) {
			t.Errorf("%s: err %v", tt.name, err)
		}
		text := out.String()
		for _, p := range tt.wantOK {
			if !strings.Contains(text, "ok    "+p) {
				t.Errorf("%s: %s not reported ok:\n%s", tt.name, p, text)
			}
		}
		for _, p := range tt.wantFail {
			if !strings.Contains(text, "FAIL  "+p) {
				t.Errorf("%s: %s not reported failing:\n%s", tt.name, p, text)
			}
		}
		if n := strings.Count(text, "\nok ") + strings.Count(text, "\nFAIL ") + boolInt(strings.HasPrefix(text, "ok ") || strings.HasPrefix(text, "FAIL ")); n != len(tt.wantOK)+len(tt.wantFail) {
			t.Errorf("%s: %d archives reported, want %d:\n%s", tt.name, n, len(tt.wantOK)+len(tt.wantFail), text)
		}
	}

	// --json
	io, _, out, _ := iostreams.Test()
	err := runVerify(&VerifyOptions{IO: io, Settings: loadSettings, Paths: []string{bad, good}, JSON: true})
	var results []verifyResult
	if jerr := json.Unmarshal(out.Bytes(), &results); jerr != nil || len(results) != 2 {
		t.Fatalf("--json: %v\n%s", jerr, out)
	}
	if results[0].OK || results[0].Error == "" || !results[1].OK || results[1].Messages != 3 || err == nil {
		t.Errorf("--json results %+v, err %v", results, err)
	}
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}
