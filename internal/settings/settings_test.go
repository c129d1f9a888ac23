package settings

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/dcehost/dcehost/internal/failure"
)

// fixture is a working directory with an optional scrape.env in it.
type fixture struct {
	dir     string
	envFile string // absolute path of dir/scrape.env
}

func newFixture(t *testing.T, envContent string) fixture {
	t.Helper()
	dir := t.TempDir()
	fx := fixture{dir: dir, envFile: filepath.Join(dir, "scrape.env")}
	if envContent != "" {
		if err := os.WriteFile(fx.envFile, []byte(envContent), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return fx
}

func (fx fixture) load(opts LoadOptions) (*Settings, error) {
	opts.WorkDir = fx.dir
	return Load(opts)
}

func TestPrecedence(t *testing.T) {
	tests := []struct {
		name     string
		file     string
		environ  []string
		flags    map[string]string
		want     string // value of DCE_MIN_FREE_MB
		source   Source
		describe string // Describe(DCE_MIN_FREE_MB), %s = env file path
	}{
		{name: "default", want: "", source: FromDefault, describe: "DCE_MIN_FREE_MB (default)"},
		{name: "env file", file: "# c\nDCE_MIN_FREE_MB=5\n", want: "5", source: FromEnvFile, describe: "DCE_MIN_FREE_MB (%s:2)"},
		{name: "process beats env file", file: "DCE_MIN_FREE_MB=5\n", environ: []string{"DCE_MIN_FREE_MB=6"},
			want: "6", source: FromProcess, describe: "DCE_MIN_FREE_MB (environment)"},
		{name: "flag beats process and file", file: "DCE_MIN_FREE_MB=5\n", environ: []string{"DCE_MIN_FREE_MB=6"},
			flags: map[string]string{MinFreeMBVar: "7"}, want: "7", source: FromFlag, describe: "DCE_MIN_FREE_MB (flag)"},
		{name: "empty file value is unset", file: "DCE_MIN_FREE_MB=\n", environ: []string{"DCE_MIN_FREE_MB=6"},
			want: "6", source: FromProcess},
		{name: "empty quoted file value is unset", file: "DCE_MIN_FREE_MB=\"\"\n", want: "", source: FromDefault},
		{name: "empty process value is unset", file: "DCE_MIN_FREE_MB=5\n", environ: []string{"DCE_MIN_FREE_MB="},
			want: "5", source: FromEnvFile},
		{name: "empty flag is unset", environ: []string{"DCE_MIN_FREE_MB=6"}, flags: map[string]string{MinFreeMBVar: ""},
			want: "6", source: FromProcess},
		{name: "last assignment in the file wins", file: "DCE_MIN_FREE_MB=5\nDCE_MIN_FREE_MB=9\n",
			want: "9", source: FromEnvFile, describe: "DCE_MIN_FREE_MB (%s:2)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fx := newFixture(t, tt.file)
			s, err := fx.load(LoadOptions{Environ: tt.environ, Flags: tt.flags})
			if err != nil {
				t.Fatalf("Load: %v", err)
			}
			v, src, ok := s.Lookup(MinFreeMBVar)
			if v != tt.want || src != tt.source || ok != (tt.want != "") {
				t.Fatalf("Lookup = %q, %q, %v; want %q, %q", v, src, ok, tt.want, tt.source)
			}
			if got := s.Get(MinFreeMBVar); got != tt.want {
				t.Errorf("Get = %q, want %q", got, tt.want)
			}
			if tt.describe != "" {
				want := tt.describe
				if strings.Contains(want, "%s") {
					want = strings.Replace(want, "%s", fx.envFile, 1)
				}
				if got := s.Describe(MinFreeMBVar); got != want {
					t.Errorf("Describe = %q, want %q", got, want)
				}
			}
			wantMB := int64(DefaultMinFreeMB)
			if tt.want != "" {
				wantMB = int64(tt.want[0] - '0')
			}
			if s.MinFreeMB != wantMB {
				t.Errorf("MinFreeMB = %d, want %d", s.MinFreeMB, wantMB)
			}
		})
	}
}

// The defect of the old runner: an empty DISCORD_TOKEN= line in the file
// erased a token exported by the user.
func TestEmptyTokenLineKeepsExportedToken(t *testing.T) {
	fx := newFixture(t, "export DISCORD_TOKEN=\nDISCORD_TOKEN_FILE=''\n")
	s, err := fx.load(LoadOptions{Environ: []string{"DISCORD_TOKEN=exported-token-value"}})
	if err != nil {
		t.Fatal(err)
	}
	if v, src, _ := s.Lookup(DiscordToken); v != "exported-token-value" || src != FromProcess {
		t.Fatalf("DISCORD_TOKEN = %q from %s, want the exported value", v, src)
	}
	if _, _, ok := s.Lookup(DiscordTokenFile); ok {
		t.Fatalf("an empty DISCORD_TOKEN_FILE counts as set")
	}
}

func TestEnvFileLocation(t *testing.T) {
	tests := []struct {
		name    string
		flag    string
		environ []string
		create  string // file to create, relative to the work dir
		want    string // env file, relative to the work dir
		loaded  bool
		wantErr []string
	}{
		{name: "default missing is fine", want: "scrape.env"},
		{name: "default present", create: "scrape.env", want: "scrape.env", loaded: true},
		{name: "flag relative to work dir", flag: "conf/my.env", create: "conf/my.env", want: "conf/my.env", loaded: true},
		{name: "DCE_ENV_FILE", environ: []string{"DCE_ENV_FILE=other.env"}, create: "other.env", want: "other.env", loaded: true},
		{name: "flag beats DCE_ENV_FILE", flag: "a.env", environ: []string{"DCE_ENV_FILE=b.env"}, create: "a.env", want: "a.env", loaded: true},
		{name: "flag missing", flag: "nope.env", wantErr: []string{"--env-file", "nope.env", "does not exist"}},
		{name: "DCE_ENV_FILE missing", environ: []string{"DCE_ENV_FILE=nope.env"}, wantErr: []string{"DCE_ENV_FILE", "nope.env", "does not exist"}},
		{name: "env file is a directory", flag: "conf", create: "conf/x", wantErr: []string{"--env-file", "conf"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fx := newFixture(t, "")
			if tt.create != "" {
				p := filepath.Join(fx.dir, tt.create)
				if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(p, []byte("TZ=UTC\n"), 0o600); err != nil {
					t.Fatal(err)
				}
			}
			s, err := fx.load(LoadOptions{EnvFileFlag: tt.flag, Environ: tt.environ})
			if tt.wantErr != nil {
				if !failure.IsUsage(err) {
					t.Fatalf("Load = %v, want a usage error", err)
				}
				for _, w := range tt.wantErr {
					if !strings.Contains(err.Error(), w) {
						t.Errorf("error %q does not contain %q", err, w)
					}
				}
				return
			}
			if err != nil {
				t.Fatalf("Load: %v", err)
			}
			if want := filepath.Join(fx.dir, tt.want); s.EnvFile != want || s.EnvFileLoaded != tt.loaded {
				t.Fatalf("EnvFile = %q loaded=%v, want %q loaded=%v", s.EnvFile, s.EnvFileLoaded, want, tt.loaded)
			}
			if tt.loaded && s.TZ != "UTC" {
				t.Errorf("TZ = %q, want the env file's UTC", s.TZ)
			}
		})
	}
}

func TestRelativePaths(t *testing.T) {
	home := t.TempDir()
	t.Setenv("HOME", home)
	tests := []struct {
		name    string
		file    string
		environ []string
		flags   map[string]string
		want    func(workDir, envDir string) string
	}{
		{name: "default beside the env file",
			want: func(w, e string) string { return filepath.Join(e, "config", "scrape-targets.json") }},
		{name: "env file value relative to the env file", file: "DCE_CONFIG_FILE=cfg/t.json\n",
			want: func(w, e string) string { return filepath.Join(e, "cfg", "t.json") }},
		{name: "env file absolute value", file: "DCE_CONFIG_FILE=/etc/dcehost/../t.json\n",
			want: func(w, e string) string { return "/etc/t.json" }},
		{name: "env file home value", file: "DCE_CONFIG_FILE=~/t.json\n",
			want: func(w, e string) string { return filepath.Join(home, "t.json") }},
		{name: "process value relative to the work dir", environ: []string{"DCE_CONFIG_FILE=t.json"},
			want: func(w, e string) string { return filepath.Join(w, "t.json") }},
		{name: "flag relative to the work dir", file: "DCE_CONFIG_FILE=cfg/t.json\n", flags: map[string]string{ConfigFileVar: "../f.json"},
			want: func(w, e string) string { return filepath.Join(filepath.Dir(w), "f.json") }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			work := t.TempDir()
			envDir := filepath.Join(t.TempDir(), "etc")
			if err := os.MkdirAll(envDir, 0o755); err != nil {
				t.Fatal(err)
			}
			envFile := filepath.Join(envDir, "scrape.env")
			if err := os.WriteFile(envFile, []byte(tt.file), 0o600); err != nil {
				t.Fatal(err)
			}
			s, err := Load(LoadOptions{EnvFileFlag: envFile, Environ: tt.environ, Flags: tt.flags, WorkDir: work})
			if err != nil {
				t.Fatalf("Load: %v", err)
			}
			if want := tt.want(work, envDir); s.ConfigFile != want {
				t.Fatalf("ConfigFile = %q, want %q", s.ConfigFile, want)
			}
			if s.EnvFileDir() != envDir {
				t.Errorf("EnvFileDir = %q, want %q", s.EnvFileDir(), envDir)
			}
		})
	}
}

func TestTypedValues(t *testing.T) {
	fx := newFixture(t, `DCE_COMPOSE_BIN="podman-compose --podman-path /usr/bin/podman"
DCE_COMPOSE_TTY=0
DCE_CONTAINER_MEMORY=8g
DCE_UID=1000
DCE_GID=1000
DCE_USERNS_MODE=keep-id
DCE_MIN_FREE_MB=0
DCE_SCRAPE_LOCK_FILE=run/lock
DCE_RUN_SUMMARY_FILE=/var/log/summary.json
DCE_CLI_BIN=/opt/app/DiscordChatExporter.Cli
DCE_ARCHIVE_ROOT=/home/me/Documents
DCE_REAUTH_COMMAND=/usr/local/bin/reauth
TZ=Europe/Berlin
`)
	s, err := fx.load(LoadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	checks := []struct {
		name      string
		got, want any
	}{
		{"ComposeBin", strings.Join(s.ComposeBin, "|"), "podman-compose|--podman-path|/usr/bin/podman"},
		{"DockerBin", s.DockerBin, DefaultDockerBin},
		{"ComposeNoTTY", s.ComposeNoTTY, true},
		{"ContainerMemory", s.ContainerMemory, "8g"},
		{"UID", s.UID, "1000"},
		{"GID", s.GID, "1000"},
		{"UsernsMode", s.UsernsMode, "keep-id"},
		{"MinFreeMB", s.MinFreeMB, int64(0)},
		{"LockFile", s.LockFile, filepath.Join(fx.dir, "run", "lock")},
		{"SummaryFile", s.SummaryFile, "/var/log/summary.json"},
		{"CLIBin", s.CLIBin, "/opt/app/DiscordChatExporter.Cli"},
		{"ArchiveRoot", s.ArchiveRoot, "/home/me/Documents"},
		{"ReauthCommand", s.ReauthCommand, "/usr/local/bin/reauth"},
		{"TZ", s.TZ, "Europe/Berlin"},
		{"ComposeFile", s.ComposeFile, filepath.Join(fx.dir, DefaultComposeFile)},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("%s = %v, want %v", c.name, c.got, c.want)
		}
	}

	// Unset: defaults.
	s, err = newFixture(t, "").load(LoadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if s.ComposeBin != nil || s.ComposeNoTTY || s.ContainerMemory != "" || s.LockFile != "" || s.SummaryFile != "" || s.MinFreeMB != DefaultMinFreeMB {
		t.Fatalf("defaults not applied: %+v", s)
	}
}

func TestComposeTTY(t *testing.T) {
	for v, noTTY := range map[string]bool{"0": true, "false": true, "NO": true, "1": false, "true": false, "yes": false, "auto": false} {
		s, err := newFixture(t, "").load(LoadOptions{Environ: []string{"DCE_COMPOSE_TTY=" + v}})
		if err != nil {
			t.Fatalf("DCE_COMPOSE_TTY=%s: %v", v, err)
		}
		if s.ComposeNoTTY != noTTY {
			t.Errorf("DCE_COMPOSE_TTY=%s: ComposeNoTTY = %v, want %v", v, s.ComposeNoTTY, noTTY)
		}
	}
}

func TestBadValues(t *testing.T) {
	tests := []struct {
		name    string
		file    string
		environ []string
		want    []string // %s = env file path
	}{
		{name: "tty maybe", file: "TZ=UTC\nDCE_COMPOSE_TTY=maybe\n",
			want: []string{`DCE_COMPOSE_TTY (%s:2)="maybe"`, "want 0"}},
		{name: "min free not a number", file: "DCE_MIN_FREE_MB=-x\n",
			want: []string{`DCE_MIN_FREE_MB (%s:1)="-x"`, "whole number of megabytes"}},
		{name: "min free negative", file: "DCE_MIN_FREE_MB=-5\n",
			want: []string{`DCE_MIN_FREE_MB (%s:1)="-5"`}},
		{name: "memory words", file: "\n\nDCE_CONTAINER_MEMORY=lots\n",
			want: []string{`DCE_CONTAINER_MEMORY (%s:3)="lots"`, "such as 8g"}},
		{name: "memory unit", file: "DCE_CONTAINER_MEMORY=8x\n",
			want: []string{`DCE_CONTAINER_MEMORY (%s:1)="8x"`}},
		{name: "uid name", file: "DCE_UID=me\n",
			want: []string{`DCE_UID (%s:1)="me"`, "numeric id"}},
		{name: "gid negative", file: "DCE_GID=-1\n",
			want: []string{`DCE_GID (%s:1)="-1"`, "numeric id"}},
		{name: "userns with spaces", file: "DCE_USERNS_MODE=\"keep id\"\n",
			want: []string{`DCE_USERNS_MODE (%s:1)`, "single word"}},
		{name: "from the environment", environ: []string{"DCE_MIN_FREE_MB=lots"},
			want: []string{`DCE_MIN_FREE_MB (environment)="lots"`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fx := newFixture(t, tt.file)
			_, err := fx.load(LoadOptions{Environ: tt.environ})
			if !failure.IsUsage(err) {
				t.Fatalf("Load = %v, want a usage error", err)
			}
			for _, w := range tt.want {
				w = strings.Replace(w, "%s", fx.envFile, 1)
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
		})
	}
}

func TestValidMemory(t *testing.T) {
	for v, want := range map[string]bool{
		"0": true, "8g": true, "8G": true, "512m": true, "1.5g": true, "1024": true, "100kb": true,
		"": false, "g": false, "-1g": false, "8 g": false, "8gib": false, "1.g": false, "lots": false,
	} {
		if got := ValidMemory(v); got != want {
			t.Errorf("ValidMemory(%q) = %v, want %v", v, got, want)
		}
	}
}

func TestEnvFileKeysAndLines(t *testing.T) {
	f, err := parseEnv("x.env", []byte("A=1\n\n# B=2\nexport C=3\nA=4\n"))
	if err != nil {
		t.Fatal(err)
	}
	keys := f.Keys()
	slices.Sort(keys)
	if !slices.Equal(keys, []string{"A", "C"}) {
		t.Errorf("Keys = %q", keys)
	}
	if f.Line("A") != 5 || f.Line("C") != 4 || f.Line("B") != 0 {
		t.Errorf("Line A=%d C=%d B=%d, want 5 4 0", f.Line("A"), f.Line("C"), f.Line("B"))
	}
	var none *EnvFile
	if v, ok := none.Lookup("A"); ok || v != "" || none.Line("A") != 0 || none.Keys() != nil {
		t.Errorf("nil EnvFile is not empty")
	}
}
