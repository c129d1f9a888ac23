package targets

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/dcehost/dcehost/internal/cli/factory"
	"github.com/dcehost/dcehost/internal/failure"
	"github.com/dcehost/dcehost/internal/iostreams"
)

var update = flag.Bool("update", false, "rewrite golden files")

// testFactory returns a factory whose working directory is a fresh
// temporary directory holding the given files (name -> testdata file), and
// whose process environment is environ.
func testFactory(t *testing.T, files map[string]string, environ ...string) (*factory.Factory, *bytes.Buffer, string) {
	t.Helper()
	dir := t.TempDir()
	for name, src := range files {
		data, err := os.ReadFile(filepath.Join("testdata", src))
		if err != nil {
			t.Fatal(err)
		}
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	f := factory.New("test")
	ios, _, out, _ := iostreams.Test()
	f.IO = ios
	f.Environ = func() []string { return environ }
	f.WorkDir = dir
	return f, out, dir
}

func run(f *factory.Factory, args ...string) error {
	cmd := NewCmdTargets(f, nil)
	cmd.SetArgs(append([]string{}, args...)) // never nil: cobra would read os.Args
	cmd.SetOut(f.IO.Out)
	cmd.SetErr(f.IO.ErrOut)
	cmd.SilenceUsage = true
	cmd.SilenceErrors = true
	return cmd.Execute()
}

func TestFlags(t *testing.T) {
	tests := []struct {
		args []string
		want Options
	}{
		{nil, Options{}},
		{[]string{"--config", "c.json"}, Options{Config: "c.json"}},
		{[]string{"--json", "--config=x/y.json"}, Options{Config: "x/y.json", JSON: true}},
	}
	for _, tt := range tests {
		f, _, _ := testFactory(t, nil)
		var got *Options
		cmd := NewCmdTargets(f, func(o *Options) error { got = o; return nil })
		cmd.SetArgs(append([]string{}, tt.args...))
		if err := cmd.Execute(); err != nil {
			t.Fatalf("%q: %v", tt.args, err)
		}
		if got.Config != tt.want.Config || got.JSON != tt.want.JSON {
			t.Errorf("%q: options %+v, want %+v", tt.args, got, tt.want)
		}
		if got.IO != f.IO || got.Settings == nil {
			t.Errorf("%q: options not wired to the factory", tt.args)
		}
	}
}

func TestTableGolden(t *testing.T) {
	f, out, _ := testFactory(t, map[string]string{"config/scrape-targets.json": "scrape-targets.json"})
	if err := run(f); err != nil {
		t.Fatalf("targets: %v", err)
	}
	golden := filepath.Join("testdata", "table.golden")
	if *update {
		if err := os.WriteFile(golden, out.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(string(want), out.String()); diff != "" {
		t.Fatalf("table mismatch (-want +got):\n%s", diff)
	}
}

func TestJSON(t *testing.T) {
	f, out, _ := testFactory(t, map[string]string{"config/scrape-targets.json": "scrape-targets.json"})
	if err := run(f, "--json"); err != nil {
		t.Fatalf("targets --json: %v", err)
	}
	var got []map[string]any
	if err := json.Unmarshal(out.Bytes(), &got); err != nil {
		t.Fatalf("output is not a JSON array: %v\n%s", err, out)
	}
	want := []map[string]any{
		{
			"name": "myserver", "kind": "guild", "output_dir": "/srv/dcehost-golden/Documents/myserver", "enabled": true,
			"guild_ids": []any{"123456789012345678"}, "channel_ids": []any{}, "guild_name_patterns": []any{},
			"include_threads": "active", "include_voice_channels": false, "container_memory": "8g",
		},
		{
			"name": "direct-messages", "kind": "dms", "output_dir": "/srv/dcehost-golden/Documents/DMs", "enabled": false,
			"guild_ids": []any{}, "channel_ids": []any{}, "guild_name_patterns": []any{},
			"include_threads": "all", "include_voice_channels": false,
		},
		{
			"name": "by-name", "kind": "guild", "output_dir": "/srv/dcehost-golden/Documents/Some Server", "enabled": true,
			"guild_ids": []any{}, "channel_ids": []any{}, "guild_name_patterns": []any{"some server"},
			"include_threads": "all", "include_voice_channels": true,
		},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Fatalf("JSON mismatch (-want +got):\n%s", diff)
	}
}

func TestConfigLocation(t *testing.T) {
	files := map[string]string{
		"good.json":                  "scrape-targets.json",
		"bad.json":                   "bad-targets.json",
		"etc/cfg/t.json":             "scrape-targets.json",
		"config/scrape-targets.json": "bad-targets.json",
	}
	tests := []struct {
		name    string
		args    []string
		environ []string
		envFile string // content of scrape.env in the work dir
		wantErr string // "" = success
	}{
		{name: "--config beats DCE_CONFIG_FILE", args: []string{"--config", "good.json"}, environ: []string{"DCE_CONFIG_FILE=bad.json"}},
		{name: "DCE_CONFIG_FILE from the environment", environ: []string{"DCE_CONFIG_FILE=good.json"}},
		{name: "DCE_CONFIG_FILE in the env file", envFile: "DCE_CONFIG_FILE=etc/cfg/t.json\n"},
		{name: "default location", wantErr: "config/scrape-targets.json: targets[0].output_dir (a) \"/elsewhere\": outside archive_root /srv/x"},
		{name: "bad --config", args: []string{"--config", "bad.json"}, environ: []string{"DCE_CONFIG_FILE=good.json"}, wantErr: "bad.json: targets[0].output_dir"},
		{name: "missing --config", args: []string{"--config", "missing.json"}, wantErr: "missing.json does not exist"},
		{name: "bad env file", envFile: "DCE_CONFIG_FILE=\"good.json\n", wantErr: "scrape.env:1: DCE_CONFIG_FILE: unterminated quote"},
	}
	for _, tt := range tests {
		for _, asJSON := range []bool{false, true} {
			name := tt.name
			if asJSON {
				name += " (json)"
			}
			t.Run(name, func(t *testing.T) {
				f, out, dir := testFactory(t, files, tt.environ...)
				if tt.envFile != "" {
					if err := os.WriteFile(filepath.Join(dir, "scrape.env"), []byte(tt.envFile), 0o600); err != nil {
						t.Fatal(err)
					}
				}
				args := tt.args
				if asJSON {
					args = append(append([]string{}, args...), "--json")
				}
				err := run(f, args...)
				if tt.wantErr == "" {
					if err != nil {
						t.Fatalf("targets %q: %v", args, err)
					}
					if !strings.Contains(out.String(), "myserver") {
						t.Fatalf("output does not list the good config:\n%s", out)
					}
					return
				}
				if !failure.IsUsage(err) {
					t.Fatalf("targets %q = %v, want a usage error", args, err)
				}
				if !strings.Contains(err.Error(), tt.wantErr) {
					t.Errorf("error %q does not contain %q", err, tt.wantErr)
				}
				if out.Len() != 0 {
					t.Errorf("printed output despite the error:\n%s", out)
				}
			})
		}
	}
}

func TestArgsRejected(t *testing.T) {
	f, _, _ := testFactory(t, nil)
	if err := run(f, "extra"); err == nil {
		t.Fatal("targets extra: want an error")
	}
}
