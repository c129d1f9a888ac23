// Command fakedocker stands in for `docker` (with its compose plugin),
// `docker-compose` and `podman-compose` in tests. Build it into a temporary
// directory under any of those names and put that directory first on PATH.
//
// Like the real tools it answers `docker compose version` /
// `docker-compose version`, and for `... -f FILE run ...` it fails when FILE
// does not exist, prints the container's output and exits with the
// container's exit status. What the "container" does comes from a script.
//
// Environment:
//
//	FAKEDOCKER_LOG     file that gets one JSON line per invocation:
//	                   {"name","argv","env","kind"} (kind "version" or "run")
//	FAKEDOCKER_SCRIPT  JSON file: a list of steps; the Nth `run` plays step N
//	                   (the last step repeats). Without it a run prints
//	                   nothing and exits 0.
//	FAKEDOCKER_NO_COMPOSE=1  `docker compose version` fails as it does when
//	                   the compose plugin is not installed.
//
// A step:
//
//	{
//	  "rewrite": {"path": "/x/token", "content": "new\n"},  // done first
//	  "lines": [{"stream": "stderr", "text": "...", "wait_for": "/x/release", "delay_ms": 0}],
//	  "accept_tokens": ["tok"],  // DISCORD_TOKEN not listed: print DCE's
//	                             // auth message and exit 4 (what the inner
//	                             // dcehost does), after the lines
//	  "container": false,        // run the entrypoint (see below) and exit
//	                             // with its status instead of "exit"
//	  "exit": 0
//	}
//
// With "container": true the fake does what the service of
// docker-compose.yml does: it runs $DCEHOST_BIN (the mounted entrypoint)
// with the arguments after the service name, in the environment the
// compose file gives the container (DISCORD_TOKEN, DCE_CONFIG_FILE,
// DCE_ARCHIVE_ROOT, DCE_MIN_FREE_MB, TZ, and DCE_CLI_BIN, which is
// $FAKEDOCKER_CLI_BIN standing in for /opt/app/DiscordChatExporter.Cli),
// plus the variables named in FAKEDOCKER_PASS (comma-separated; test
// plumbing such as FAKEDCE_STATE), and exits with its status.
//
// In a line's text, ${DISCORD_TOKEN} is replaced by the token the fake was
// given, so tests can make the "container" echo it (the worst case for
// redaction).
//
// wait_for makes the fake wait (at most a minute) until the named file
// exists before printing the line, so tests can prove output is streamed
// while the child still runs.
package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

type line struct {
	Stream  string `json:"stream"`
	Text    string `json:"text"`
	WaitFor string `json:"wait_for"`
	DelayMS int    `json:"delay_ms"`
}

type step struct {
	Rewrite *struct {
		Path    string `json:"path"`
		Content string `json:"content"`
	} `json:"rewrite"`
	Lines        []line   `json:"lines"`
	AcceptTokens []string `json:"accept_tokens"`
	Container    bool     `json:"container"`
	Exit         int      `json:"exit"`
}

type record struct {
	Name string            `json:"name"`
	Argv []string          `json:"argv"`
	Env  map[string]string `json:"env"`
	Kind string            `json:"kind"`
}

func main() {
	name := filepath.Base(os.Args[0])
	args := os.Args[1:]
	if name == "docker" || strings.HasPrefix(name, "docker.") {
		if len(args) == 0 || args[0] != "compose" {
			fail(1, "fakedocker: only the compose plugin is faked, got %q", args)
		}
		args = args[1:]
		if os.Getenv("FAKEDOCKER_NO_COMPOSE") == "1" {
			fail(1, "docker: 'compose' is not a docker command.\nSee 'docker --help'")
		}
	}
	kind := "other"
	switch {
	case slices.Equal(args, []string{"version"}):
		kind = "version"
	case slices.Contains(args, "run"):
		kind = "run"
	}
	n, err := logInvocation(name, kind)
	if err != nil {
		fail(125, "fakedocker: %v", err)
	}
	switch kind {
	case "version":
		fmt.Println("Docker Compose version v2.99.9-fake")
		return
	case "other":
		fail(1, "fakedocker: unsupported invocation %q", os.Args[1:])
	}
	if err := checkComposeFile(args); err != nil {
		fail(1, "%v", err)
	}
	s, err := loadStep(n)
	if err != nil {
		fail(125, "fakedocker: %v", err)
	}
	os.Exit(play(s, args))
}

func fail(code int, format string, args ...any) {
	fmt.Fprintf(os.Stderr, format+"\n", args...)
	os.Exit(code)
}

// logInvocation appends this invocation to FAKEDOCKER_LOG and returns the
// number of earlier runs (0 for the first).
func logInvocation(name, kind string) (int, error) {
	path := os.Getenv("FAKEDOCKER_LOG")
	if path == "" {
		return 0, nil
	}
	runs := 0
	if data, err := os.ReadFile(path); err == nil {
		for _, l := range strings.Split(strings.TrimSpace(string(data)), "\n") {
			var r record
			if json.Unmarshal([]byte(l), &r) == nil && r.Kind == "run" {
				runs++
			}
		}
	} else if !errors.Is(err, os.ErrNotExist) {
		return 0, err
	}
	env := map[string]string{}
	for _, kv := range os.Environ() {
		k, v, _ := strings.Cut(kv, "=")
		env[k] = v
	}
	data, err := json.Marshal(record{Name: name, Argv: os.Args[1:], Env: env, Kind: kind})
	if err != nil {
		return 0, err
	}
	f, err := os.OpenFile(path, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		return 0, err
	}
	if _, err := f.Write(append(data, '\n')); err != nil {
		f.Close()
		return 0, err
	}
	return runs, f.Close()
}

// checkComposeFile fails like compose does when -f names a missing file.
func checkComposeFile(args []string) error {
	for i, a := range args {
		if a == "run" {
			return nil
		}
		if (a == "-f" || a == "--file") && i+1 < len(args) {
			if _, err := os.Stat(args[i+1]); err != nil {
				return fmt.Errorf("open %s: no such file or directory", args[i+1])
			}
		}
	}
	return nil
}

func loadStep(n int) (step, error) {
	path := os.Getenv("FAKEDOCKER_SCRIPT")
	if path == "" {
		return step{}, nil
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return step{}, err
	}
	var steps []step
	if err := json.Unmarshal(data, &steps); err != nil {
		return step{}, fmt.Errorf("script %s: %w", path, err)
	}
	if len(steps) == 0 {
		return step{}, nil
	}
	return steps[min(n, len(steps)-1)], nil
}

func play(s step, args []string) int {
	if s.Rewrite != nil {
		if err := os.WriteFile(s.Rewrite.Path, []byte(s.Rewrite.Content), 0o600); err != nil {
			fmt.Fprintf(os.Stderr, "fakedocker: rewrite: %v\n", err)
			return 125
		}
	}
	for _, l := range s.Lines {
		if l.WaitFor != "" && !waitFor(l.WaitFor) {
			fmt.Fprintf(os.Stderr, "fakedocker: %s never appeared\n", l.WaitFor)
			return 124
		}
		if l.DelayMS > 0 {
			time.Sleep(time.Duration(l.DelayMS) * time.Millisecond)
		}
		var w io.Writer = os.Stdout
		if l.Stream == "stderr" {
			w = os.Stderr
		}
		fmt.Fprintln(w, strings.ReplaceAll(l.Text, "${DISCORD_TOKEN}", os.Getenv("DISCORD_TOKEN")))
	}
	if len(s.AcceptTokens) > 0 && !slices.Contains(s.AcceptTokens, os.Getenv("DISCORD_TOKEN")) {
		// What the inner dcehost reports for DCE's "Authentication token is
		// invalid." before exiting 4.
		fmt.Fprintln(os.Stderr, "ERROR: DiscordChatExporter: Authentication token is invalid.")
		return 4
	}
	if s.Container {
		return container(args)
	}
	return s.Exit
}

// container runs the service's entrypoint like `compose run` does.
func container(args []string) int {
	i := slices.Index(args, "run") + 1
	for i < len(args) && strings.HasPrefix(args[i], "-") {
		switch args[i] {
		case "-v", "--volume", "-e", "--env", "-u", "--user", "-w", "--workdir", "--name", "--entrypoint":
			i++
		}
		i++
	}
	if i >= len(args) {
		fmt.Fprintln(os.Stderr, "fakedocker: no service given to run")
		return 1
	}
	command := args[i+1:]
	env := []string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "HOME=/home/dce"}
	for _, key := range []string{"DISCORD_TOKEN", "DCE_CONFIG_FILE", "DCE_ARCHIVE_ROOT", "DCE_MIN_FREE_MB", "TZ"} {
		env = append(env, key+"="+os.Getenv(key))
	}
	env = append(env, "DCE_CLI_BIN="+os.Getenv("FAKEDOCKER_CLI_BIN"))
	for _, key := range strings.Split(os.Getenv("FAKEDOCKER_PASS"), ",") {
		if v, ok := os.LookupEnv(key); ok && key != "" {
			env = append(env, key+"="+v)
		}
	}
	cmd := exec.Command(os.Getenv("DCEHOST_BIN"), command...)
	cmd.Env = env
	cmd.Dir = "/"
	cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
	err := cmd.Run()
	var exitErr *exec.ExitError
	switch {
	case err == nil:
		return 0
	case errors.As(err, &exitErr) && exitErr.ExitCode() >= 0:
		return exitErr.ExitCode()
	case errors.As(err, &exitErr):
		return 137 // killed: compose reports 128+signal
	}
	fmt.Fprintf(os.Stderr, "fakedocker: start the entrypoint: %v\n", err)
	return 127
}

func waitFor(path string) bool {
	for range 6000 {
		if _, err := os.Stat(path); err == nil {
			return true
		}
		time.Sleep(10 * time.Millisecond)
	}
	return false
}
