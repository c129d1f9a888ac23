package summary

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func sample() *Summary {
	s := New()
	s.FinishedAt = time.Date(2026, 6, 4, 14, 0, 0, 0, time.FixedZone("CEST", 2*3600))
	s.Add(Channel{Target: "myserver", ChannelID: "10", GuildLabel: "My Server [1]", FilePath: "/a/My Server - general [10].json",
		Action: Merged, BeforeCount: 100, FetchedCount: 42, AfterCount: 142, Delta: 42})
	s.Add(Channel{Target: "myserver", ChannelID: "11", GuildLabel: "My Server [1]", FilePath: "/a/x [11].json",
		Action: Created, FetchedCount: 5, AfterCount: 5, Delta: 5})
	s.Add(Channel{Target: "myserver", ChannelID: "12", GuildLabel: "My Server [1]", FilePath: "/a/y [12].json",
		Action: Unchanged, BeforeCount: 7, AfterCount: 7})
	s.Add(Channel{Target: "myserver", ChannelID: "13", GuildLabel: "My Server [1]", Action: Skipped, Reason: "forbidden"})
	s.Add(Channel{Target: "dms", ChannelID: "14", GuildLabel: "Direct Messages [0]", Action: SkippedOOM, Reason: "killed by signal 9"})
	s.Fail(Failure{Target: "myserver", ChannelID: "15", GuildLabel: "My Server [1]", FilePath: "/a/z [15].json", Error: "invalid archive /a/z [15].json: truncated"})
	return s
}

func TestSchemaV1(t *testing.T) {
	data, err := json.Marshal(sample())
	if err != nil {
		t.Fatal(err)
	}
	// Key order and the values of compat.md, plus the added fields.
	want := `{"version":1,"finished_at":"2026-06-04T12:00:00Z",` +
		`"totals":{"created":1,"merged":1,"unchanged":1,"skipped":2,"skipped_oom":1,"messages_appended":47,"failed":1},` +
		`"channels":[` +
		`{"target":"myserver","channel_id":"10","guild_label":"My Server [1]","file_path":"/a/My Server - general [10].json","action":"MERGED","before_count":100,"fetched_count":42,"after_count":142,"delta":42},` +
		`{"target":"myserver","channel_id":"11","guild_label":"My Server [1]","file_path":"/a/x [11].json","action":"CREATED","before_count":0,"fetched_count":5,"after_count":5,"delta":5},` +
		`{"target":"myserver","channel_id":"12","guild_label":"My Server [1]","file_path":"/a/y [12].json","action":"UNCHANGED","before_count":7,"fetched_count":0,"after_count":7,"delta":0},` +
		`{"target":"myserver","channel_id":"13","guild_label":"My Server [1]","file_path":"n/a","action":"SKIPPED","before_count":0,"fetched_count":0,"after_count":0,"delta":0,"reason":"forbidden"},` +
		`{"target":"dms","channel_id":"14","guild_label":"Direct Messages [0]","file_path":"n/a","action":"SKIPPED_OOM","before_count":0,"fetched_count":0,"after_count":0,"delta":0,"reason":"killed by signal 9"}],` +
		`"failed":[{"target":"myserver","channel_id":"15","guild_label":"My Server [1]","file_path":"/a/z [15].json","error":"invalid archive /a/z [15].json: truncated"}]}`
	if diff := cmp.Diff(want, string(data)); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
	if got := sample().Line(); got != LinePrefix+want || strings.Contains(got, "\n") {
		t.Errorf("Line() = %q", got)
	}
}

func TestEmptyListsAreArrays(t *testing.T) {
	s := New()
	s.FinishedAt = time.Unix(0, 0)
	if got := s.Line(); !strings.Contains(got, `"channels":[]`) || !strings.Contains(got, `"failed":[]`) {
		t.Errorf("Line() = %s", got)
	}
}

func TestWriteRead(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "sub", "summary.json")
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte("old"), 0o600); err != nil {
		t.Fatal(err)
	}
	s := sample()
	if err := s.Write(path); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("mode = %v, want the old file's 0600", fi.Mode().Perm())
	}
	entries, _ := os.ReadDir(filepath.Dir(path))
	if len(entries) != 1 {
		t.Errorf("leftover files: %v", entries)
	}
	got, err := Read(path)
	if err != nil {
		t.Fatal(err)
	}
	s.FinishedAt = s.FinishedAt.UTC()
	if diff := cmp.Diff(s, got, cmp.Comparer(func(a, b time.Time) bool { return a.Equal(b) })); diff != "" {
		t.Errorf("round trip (-want +got):\n%s", diff)
	}
}

func TestReadOldToolSummary(t *testing.T) {
	path := filepath.Join(t.TempDir(), "s.json")
	old := `{ "version": 1, "finished_at": "2026-06-04T12:00:00Z",
  "totals": { "created": 0, "merged": 1, "unchanged": 3, "skipped": 1, "skipped_oom": 0, "messages_appended": 42 },
  "channels": [ { "target": "myserver", "channel_id": "9", "guild_label": "My Server [123]",
                  "file_path": "/x [9].json", "action": "MERGED",
                  "before_count": 100, "fetched_count": 42, "after_count": 142, "delta": 42 } ] }`
	if err := os.WriteFile(path, []byte(old), 0o644); err != nil {
		t.Fatal(err)
	}
	s, err := Read(path)
	if err != nil {
		t.Fatal(err)
	}
	if s.Totals.Merged != 1 || len(s.Channels) != 1 || s.Channels[0].AfterCount != 142 || len(s.Failed) != 0 {
		t.Errorf("read %+v", s)
	}
}

func TestReadRejects(t *testing.T) {
	for name, doc := range map[string]string{
		"version 2":  `{"version":2,"finished_at":"2026-06-04T12:00:00Z","totals":{},"channels":[]}`,
		"bad action": `{"version":1,"finished_at":"2026-06-04T12:00:00Z","totals":{},"channels":[{"action":"FAILED"}]}`,
		"bad time":   `{"version":1,"finished_at":"yesterday","totals":{},"channels":[]}`,
		"not json":   `{`,
	} {
		t.Run(name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "s.json")
			if err := os.WriteFile(path, []byte(doc), 0o644); err != nil {
				t.Fatal(err)
			}
			if _, err := Read(path); err == nil || !strings.Contains(err.Error(), path) {
				t.Errorf("Read = %v, want an error naming %s", err, path)
			}
		})
	}
}

func TestTable(t *testing.T) {
	var b bytes.Buffer
	if err := sample().Table(&b); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	for _, want := range []string{
		"ACTION", "MERGED", "SKIPPED (forbidden)", "SKIPPED_OOM (killed by signal 9)", "FAILED",
		"failed: myserver/15: invalid archive /a/z [15].json: truncated",
		"totals: created 1, merged 1, unchanged 1, skipped 2 (oom 1), failed 1, messages appended 47",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("table lacks %q:\n%s", want, out)
		}
	}
}
