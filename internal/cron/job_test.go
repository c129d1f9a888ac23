package cron

import (
	"errors"
	"fmt"
	"io/fs"
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

func fakeLookPath(found map[string]string) func(string) (string, error) {
	return func(name string) (string, error) {
		if p, ok := found[name]; ok {
			return p, nil
		}
		return "", fmt.Errorf("exec: %q: %w", name, fs.ErrNotExist)
	}
}

func TestResolveTools(t *testing.T) {
	tests := []struct {
		name  string
		ts    ToolSettings
		found map[string]string
		want  string // "NAME=value" or "" for none
	}{
		{"docker in PATH", ToolSettings{DockerBin: "docker"}, map[string]string{"docker": "/usr/local/bin/docker"}, "DCE_DOCKER_BIN=/usr/local/bin/docker"},
		{"docker default name", ToolSettings{}, map[string]string{"docker": "/usr/bin/docker"}, "DCE_DOCKER_BIN=/usr/bin/docker"},
		{"docker already absolute", ToolSettings{DockerBin: "/usr/bin/docker"}, map[string]string{"/usr/bin/docker": "/usr/bin/docker"}, ""},
		{"docker-compose fallback", ToolSettings{DockerBin: "docker"}, map[string]string{"docker-compose": "/usr/local/bin/docker-compose", "podman-compose": "/usr/bin/podman-compose"}, "DCE_COMPOSE_BIN=/usr/local/bin/docker-compose"},
		{"podman-compose fallback", ToolSettings{DockerBin: "docker"}, map[string]string{"podman-compose": "/usr/bin/podman-compose"}, "DCE_COMPOSE_BIN=/usr/bin/podman-compose"},
		{"compose bin with args", ToolSettings{ComposeBin: []string{"podman", "compose"}}, map[string]string{"podman": "/usr/bin/podman"}, "DCE_COMPOSE_BIN=/usr/bin/podman compose"},
		{"compose bin absolute", ToolSettings{ComposeBin: []string{"/opt/bin/podman-compose"}}, map[string]string{"/opt/bin/podman-compose": "/opt/bin/podman-compose"}, ""},
	}
	for _, tt := range tests {
		env, err := ResolveTools(tt.ts, fakeLookPath(tt.found))
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
	bad := []struct {
		name  string
		ts    ToolSettings
		found map[string]string
		say   string
	}{
		{"nothing installed", ToolSettings{DockerBin: "docker"}, nil, "no docker, docker-compose or podman-compose"},
		{"missing DCE_DOCKER_BIN", ToolSettings{DockerBin: "/opt/docker"}, map[string]string{"docker-compose": "/usr/bin/docker-compose"}, "DCE_DOCKER_BIN /opt/docker"},
		{"missing DCE_COMPOSE_BIN", ToolSettings{ComposeBin: []string{"podman-compose"}}, map[string]string{"docker": "/usr/bin/docker"}, "DCE_COMPOSE_BIN podman-compose"},
	}
	for _, tt := range bad {
		_, err := ResolveTools(tt.ts, fakeLookPath(tt.found))
		var te *ToolError
		if !errors.As(err, &te) || !strings.Contains(err.Error(), tt.say) {
			t.Errorf("%s: err = %v, want a *ToolError saying %q", tt.name, err, tt.say)
		}
	}
}
