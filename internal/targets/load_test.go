package targets

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/dcehost/dcehost/internal/failure"
)

func TestLoadValid(t *testing.T) {
	cfg, err := Load("testdata/valid.json")
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	wantPath, _ := filepath.Abs("testdata/valid.json")
	want := &Config{
		Path:        wantPath,
		ArchiveRoot: "/srv/dcehost-test/Documents",
		Defaults:    Defaults{IncludeThreads: ThreadsAll},
		Targets: []Target{
			{
				Name: "myserver", Kind: Guild, OutputDir: "/srv/dcehost-test/Documents/myserver",
				GuildIDs: []string{"123456789012345678"}, Enabled: true, ContainerMemory: "8g",
				IncludeThreads: ThreadsActive,
			},
			{
				Name: "dms", Kind: DMs, OutputDir: "/srv/dcehost-test/Documents/dms",
				Enabled: false, IncludeThreads: ThreadsAll, IncludeVoiceChannels: true,
			},
			{
				Name: "numeric", Kind: Guild, OutputDir: "/srv/dcehost-test/Documents/numeric",
				GuildIDs:   []string{"18446744073709551615"},
				ChannelIDs: []string{"222222222222222222", "333"},
				Enabled:    true, IncludeThreads: ThreadsAll,
			},
			{
				Name: "by-name", Kind: Guild, OutputDir: "/srv/dcehost-test/Documents/by name",
				GuildNamePatterns: []string{"My Server"}, Enabled: true, IncludeThreads: ThreadsAll,
			},
		},
	}
	if diff := cmp.Diff(want, cfg); diff != "" {
		t.Fatalf("Load mismatch (-want +got):\n%s", diff)
	}
}

func TestLoadDefaultsWhenUnset(t *testing.T) {
	cfg, err := Load("testdata/no-defaults.json")
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	got := cfg.Targets[0]
	if got.IncludeThreads != ThreadsNone || got.IncludeVoiceChannels || !got.Enabled || got.Kind != Guild {
		t.Fatalf("defaults not applied: %+v", got)
	}
}

func TestLoadBad(t *testing.T) {
	tests := []struct {
		file string
		want []string // substrings of the error, besides the file name
	}{
		{"syntax", []string{"line 2, column 17", "invalid JSON"}},
		{"truncated", []string{"unexpected end of file"}},
		{"trailing", []string{"unexpected data after the JSON document"}},
		{"not-object", []string{"want a JSON object", "an array"}},
		{"root-missing", []string{"archive_root is missing"}},
		{"root-relative", []string{`archive_root "Documents": must be an absolute path`}},
		{"root-number", []string{"archive_root must be a string, got the number 5"}},
		{"root-dotdot", []string{`archive_root "/a/../b": must not contain .. segments`}},
		{"targets-missing", []string{"targets is missing"}},
		{"targets-empty", []string{"targets is empty"}},
		{"targets-object", []string{"targets must be an array, got an object"}},
		{"target-string", []string{`targets[0] must be an object, got the string "x"`}},
		{"name-missing", []string{"targets[0].name is missing"}},
		{"name-empty", []string{"targets[0].name is empty"}},
		{"name-dash", []string{`targets[0].name "-x": must not start with '-'`}},
		{"name-dup", []string{`targets[1].name "x": also used by targets[0]`}},
		{"kind-unknown", []string{`targets[0].kind (x) "group": unknown kind; want "guild" or "dms"`}},
		{"out-missing", []string{"targets[0].output_dir (x) is missing"}},
		{"out-relative", []string{`targets[0].output_dir (x) "x": must be an absolute path`}},
		{"out-outside", []string{`targets[1].output_dir (y) "/x": outside archive_root /a`}},
		{"out-dotdot", []string{`targets[0].output_dir (x) "/a/../etc": must not contain .. segments`}},
		{"out-dotdot-inside", []string{`"/a/b/../c": must not contain .. segments`}},
		{"out-is-root", []string{`targets[0].output_dir (x) "/a/": outside archive_root /a`}},
		{"out-prefix-sibling", []string{`"/ab/x": outside archive_root /a`}},
		{"out-dup", []string{`targets[1].output_dir (y) "/a/x": also the output_dir of targets[0]`}},
		{"out-nested", []string{`targets[1].output_dir (y) "/a/x/y": overlaps the output_dir of targets[0]`}},
		{"id-float", []string{"targets[0].guild_ids[0] (x)", "123456789012345678.0: a number that is not an exact id"}},
		{"id-exponent", []string{"1.2345678901234568e17: a number that is not an exact id"}},
		{"id-overflow", []string{"18446744073709551616: a number that is not an exact id"}},
		{"id-negative", []string{"-5: a number that is not an exact id"}},
		{"id-letters", []string{`targets[0].channel_ids[0] (x) "12a": not a Discord id`}},
		{"id-bool", []string{"channel_ids[0] (x) must be an id string, got a boolean"}},
		{"id-not-array", []string{`guild_ids (x) must be an array of id strings, got the string "123"`}},
		{"id-dup", []string{`guild_ids[1] (x) "123": listed twice`}},
		{"threads-bad", []string{`include_threads (x) "some": want "none", "active" or "all"`}},
		{"defaults-threads-bad", []string{"defaults.include_threads must be a string, got a boolean"}},
		{"defaults-not-object", []string{"defaults must be an object, got an array"}},
		{"voice-string", []string{`include_voice_channels (x) must be true or false, got the string "yes"`}},
		{"enabled-string", []string{`enabled (x) must be true or false, got the string "false"`}},
		{"memory-bad", []string{`container_memory (x) "lots": want a size such as 8g`}},
		{"memory-number", []string{"container_memory (x) must be a string", "got the number 8"}},
		{"guild-no-scope", []string{`targets[0] (x): kind "guild" needs guild_ids, channel_ids or guild_name_patterns`}},
		{"dms-with-guilds", []string{`targets[0] (x): kind "dms" exports every DM channel`}},
		{"pattern-empty", []string{`guild_name_patterns[0] (x) "--": has no letters or digits`}},
	}
	seen := map[string]bool{}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			path := filepath.Join("testdata", "bad", tt.file+".json")
			seen[tt.file+".json"] = true
			cfg, err := Load(path)
			if err == nil {
				t.Fatalf("Load(%s) = %+v, want an error", path, cfg)
			}
			if !failure.IsUsage(err) {
				t.Fatalf("Load(%s) error %T %v, want *failure.UsageError", path, err, err)
			}
			msg := err.Error()
			if !strings.HasPrefix(msg, path+": ") {
				t.Errorf("error %q does not start with the file name %s", msg, path)
			}
			for _, w := range tt.want {
				if !strings.Contains(msg, w) {
					t.Errorf("error %q does not contain %q", msg, w)
				}
			}
		})
	}
	// Every fixture is covered by the table.
	entries, err := os.ReadDir(filepath.Join("testdata", "bad"))
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if !seen[e.Name()] {
			t.Errorf("fixture testdata/bad/%s has no test case", e.Name())
		}
	}
}

func TestParseByteOrderMark(t *testing.T) {
	data, err := os.ReadFile("testdata/no-defaults.json")
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := Parse("bom.json", append([]byte("\ufeff"), data...))
	if err != nil || len(cfg.Targets) != 1 {
		t.Fatalf("Parse with a byte order mark = %+v, %v", cfg, err)
	}
}

func TestLoadMissingFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "nope.json")
	_, err := Load(path)
	if !failure.IsUsage(err) || !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), "does not exist") {
		t.Fatalf("Load(missing) = %v, want a usage error naming %s", err, path)
	}
}

// writeConfig writes a config with one target whose output_dir is out.
func writeConfig(t *testing.T, root, out string) string {
	t.Helper()
	doc := map[string]any{
		"archive_root": root,
		"targets": []any{map[string]any{
			"name": "t", "output_dir": out, "channel_ids": []string{"1"},
		}},
	}
	data, err := json.Marshal(doc)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "scrape-targets.json")
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestLoadSymlinks(t *testing.T) {
	base := t.TempDir()
	root := filepath.Join(base, "archive")
	outside := filepath.Join(base, "elsewhere")
	for _, d := range []string{root, outside, filepath.Join(root, "real")} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	links := map[string]string{
		"escape":   outside,                             // absolute link out of the root
		"relative": "../elsewhere",                      // relative link out of the root
		"inner":    filepath.Join(root, "real"),         // link that stays inside
		"dangling": filepath.Join(outside, "not-there"), // link to nothing, outside
	}
	for name, dest := range links {
		if err := os.Symlink(dest, filepath.Join(root, name)); err != nil {
			t.Fatal(err)
		}
	}
	// The archive root itself reached through a symbolic link.
	rootLink := filepath.Join(base, "root-link")
	if err := os.Symlink(root, rootLink); err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name    string
		root    string
		out     string
		wantErr string
	}{
		{"plain, not yet created", root, filepath.Join(root, "new", "deeper"), ""},
		{"existing dir", root, filepath.Join(root, "real"), ""},
		{"link staying inside", root, filepath.Join(root, "inner", "sub"), ""},
		{"root through a link", rootLink, filepath.Join(rootLink, "real"), ""},
		{"absolute link out", root, filepath.Join(root, "escape", "x"), "(symbolic link), outside archive_root"},
		{"relative link out", root, filepath.Join(root, "relative"), "(symbolic link), outside archive_root"},
		{"dangling link", root, filepath.Join(root, "dangling", "x"), "symbolic link to a missing target"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := writeConfig(t, tt.root, tt.out)
			cfg, err := Load(path)
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("Load: %v", err)
				}
				if cfg.Targets[0].OutputDir != tt.out {
					t.Fatalf("OutputDir = %q, want %q (as written, cleaned)", cfg.Targets[0].OutputDir, tt.out)
				}
				return
			}
			if !failure.IsUsage(err) || !strings.Contains(err.Error(), tt.wantErr) || !strings.Contains(err.Error(), "targets[0].output_dir (t) ") {
				t.Fatalf("Load = %v, want a usage error about output_dir containing %q", err, tt.wantErr)
			}
		})
	}
}

func TestIsSnowflake(t *testing.T) {
	tests := map[string]bool{
		"1":                    true,
		"123456789012345678":   true,
		"18446744073709551615": true,
		"18446744073709551616": false,
		"":                     false,
		"0":                    false,
		"0123":                 false,
		"-1":                   false,
		"+1":                   false,
		"1e5":                  false,
		"12 ":                  false,
		"١٢٣":                  false, // non-ASCII digits
	}
	for in, want := range tests {
		if got := IsSnowflake(in); got != want {
			t.Errorf("IsSnowflake(%q) = %v, want %v", in, got, want)
		}
	}
}

func FuzzParse(f *testing.F) {
	for _, name := range []string{"testdata/valid.json", "testdata/no-defaults.json"} {
		data, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	entries, err := os.ReadDir("testdata/bad")
	if err != nil {
		f.Fatal(err)
	}
	for _, e := range entries {
		data, err := os.ReadFile(filepath.Join("testdata/bad", e.Name()))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		cfg, err := Parse("fuzz.json", data)
		if err != nil {
			if !failure.IsUsage(err) {
				t.Fatalf("error %T %v is not a usage error", err, err)
			}
			if !strings.HasPrefix(err.Error(), "fuzz.json: ") {
				t.Fatalf("error %q does not name the file", err)
			}
			return
		}
		// A config that parses keeps every invariant Select relies on.
		if len(cfg.Targets) == 0 || !filepath.IsAbs(cfg.ArchiveRoot) {
			t.Fatalf("accepted config without targets or absolute root: %+v", cfg)
		}
		names := map[string]bool{}
		for i, tg := range cfg.Targets {
			if tg.Name == "" || names[tg.Name] {
				t.Fatalf("targets[%d]: empty or duplicate name %q", i, tg.Name)
			}
			names[tg.Name] = true
			if !within(cfg.ArchiveRoot, tg.OutputDir) || hasDotDot(tg.OutputDir) {
				t.Fatalf("targets[%d]: output_dir %q not inside %q", i, tg.OutputDir, cfg.ArchiveRoot)
			}
			for _, id := range append(append([]string{}, tg.GuildIDs...), tg.ChannelIDs...) {
				if !IsSnowflake(id) {
					t.Fatalf("targets[%d]: accepted id %q", i, id)
				}
			}
			switch tg.IncludeThreads {
			case ThreadsNone, ThreadsActive, ThreadsAll:
			default:
				t.Fatalf("targets[%d]: include_threads %q", i, tg.IncludeThreads)
			}
			if tg.Kind != Guild && tg.Kind != DMs {
				t.Fatalf("targets[%d]: kind %q", i, tg.Kind)
			}
		}
		if _, err := cfg.Select(Selection{}); err != nil && !failure.IsUsage(err) {
			t.Fatalf("Select: %v", fmt.Sprint(err))
		}
	})
}
