package cron

import (
	"errors"
	"strings"
	"testing"
)

func TestJobCommand(t *testing.T) {
	j := Job{
		Binary:  "/usr/local/bin/dcehost",
		EnvFile: "/home/me/My Discord/scrape.env",
		Config:  "/home/me/My Discord/config/scrape-targets.json",
		LogFile: "/home/me/My Discord/logs/scrape.log",
		Targets: []string{"myserver", "it's dms"},
		Env:     []EnvVar{{Name: "DCE_DOCKER_BIN", Value: "/opt/docker bin/docker"}},
	}
	got, err := j.Command()
	if err != nil {
		t.Fatal(err)
	}
	want := `DCE_DOCKER_BIN='/opt/docker bin/docker' /usr/local/bin/dcehost scrape --env-file '/home/me/My Discord/scrape.env' --config '/home/me/My Discord/config/scrape-targets.json' --log-file '/home/me/My Discord/logs/scrape.log' --target myserver --target 'it'"'"'s dms'`
	if got != want {
		t.Errorf("Command() =\n%s\nwant\n%s", got, want)
	}
	j.Runner, j.Targets, j.Env = "local", nil, []EnvVar{{Name: "DCE_CLI_BIN", Value: "/opt/dce/DiscordChatExporter.Cli"}}
	got, err = j.Command()
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(got, "DCE_CLI_BIN=/opt/dce/DiscordChatExporter.Cli /usr/local/bin/dcehost scrape ") || !strings.HasSuffix(got, "/logs/scrape.log' --runner local") {
		t.Errorf("local runner command = %s", got)
	}
	for _, bad := range []string{">", "2>&1", "flock", "DISCORD_TOKEN", "\n"} {
		if strings.Contains(got, bad) {
			t.Errorf("command holds %q", bad)
		}
	}
}

func TestJobCommandRefusesUnsafeValues(t *testing.T) {
	base := Job{Binary: "/bin/dcehost", EnvFile: "/e/scrape.env", Config: "/e/c.json", LogFile: "/e/l.log"}
	tests := []struct {
		name string
		edit func(*Job)
	}{
		{"percent in env file", func(j *Job) { j.EnvFile = "/e/100%/scrape.env" }},
		{"percent in log file", func(j *Job) { j.LogFile = "/e/%d.log" }},
		{"percent in target", func(j *Job) { j.Targets = []string{"a%b"} }},
		{"percent in env value", func(j *Job) { j.Env = []EnvVar{{Name: "DCE_DOCKER_BIN", Value: "/x%/docker"}} }},
		{"newline in binary", func(j *Job) { j.Binary = "/bin/dce\nhost" }},
		{"newline in target", func(j *Job) { j.Targets = []string{"a\n* * * * * evil"} }},
		{"backslash in config", func(j *Job) { j.Config = `/e/a\b.json` }},
		{"relative env file", func(j *Job) { j.EnvFile = "scrape.env" }},
		{"relative binary", func(j *Job) { j.Binary = "dcehost" }},
		{"empty log file", func(j *Job) { j.LogFile = "" }},
		{"empty target", func(j *Job) { j.Targets = []string{""} }},
		{"bad env name", func(j *Job) { j.Env = []EnvVar{{Name: "A;B", Value: "/x"}} }},
		{"digit env name", func(j *Job) { j.Env = []EnvVar{{Name: "1A", Value: "/x"}} }},
	}
	for _, tt := range tests {
		j := base
		tt.edit(&j)
		var ue *UnsafeValueError
		if _, err := j.Command(); !errors.As(err, &ue) {
			t.Errorf("%s: err = %v, want *UnsafeValueError", tt.name, err)
		}
	}
}

func TestPinCompose(t *testing.T) {
	tests := []struct {
		name     string
		detected []string
		ts       ToolSettings
		want     string // "NAME=value" or "" for none
	}{
		{"docker compose by name", []string{"/usr/local/bin/docker", "compose"}, ToolSettings{DockerBin: "docker"}, "DCE_DOCKER_BIN=/usr/local/bin/docker"},
		{"docker already absolute", []string{"/usr/bin/docker", "compose"}, ToolSettings{DockerBin: "/usr/bin/docker"}, ""},
		{"docker-compose fallback", []string{"/usr/local/bin/docker-compose"}, ToolSettings{DockerBin: "docker"}, "DCE_COMPOSE_BIN=/usr/local/bin/docker-compose"},
		{"podman-compose fallback", []string{"/usr/bin/podman-compose"}, ToolSettings{DockerBin: "docker"}, "DCE_COMPOSE_BIN=/usr/bin/podman-compose"},
		{"compose bin with args", []string{"/usr/bin/podman", "compose"}, ToolSettings{ComposeBin: []string{"podman", "compose"}, DockerBin: "docker"}, "DCE_COMPOSE_BIN=/usr/bin/podman compose"},
		{"compose bin absolute", []string{"/opt/bin/podman-compose"}, ToolSettings{ComposeBin: []string{"/opt/bin/podman-compose"}}, ""},
		{"nothing detected", nil, ToolSettings{}, ""},
	}
	for _, tt := range tests {
		env, err := PinCompose(tt.detected, tt.ts)
		if err != nil {
			t.Errorf("%s: %v", tt.name, err)
			continue
		}
		var got string
		for _, e := range env {
			got += e.Name + "=" + e.Value
		}
		if got != tt.want {
			t.Errorf("%s: got %q, want %q", tt.name, got, tt.want)
		}
	}
	var ue *UnsafeValueError
	if _, err := PinCompose([]string{"/opt/my tools/podman-compose"}, ToolSettings{DockerBin: "docker"}); !errors.As(err, &ue) {
		t.Errorf("a compose path with a space: err = %v, want *UnsafeValueError", err)
	}
}

func TestPinCLI(t *testing.T) {
	if got := PinCLI("/opt/dce/DiscordChatExporter.Cli", ""); len(got) != 1 || got[0] != (EnvVar{"DCE_CLI_BIN", "/opt/dce/DiscordChatExporter.Cli"}) {
		t.Errorf("PinCLI from PATH = %v", got)
	}
	if got := PinCLI("/opt/dce/DiscordChatExporter.Cli", "/opt/dce/DiscordChatExporter.Cli"); got != nil {
		t.Errorf("PinCLI of an absolute DCE_CLI_BIN = %v, want nothing", got)
	}
}
