package dce

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// fakeBin is the fake DiscordChatExporter.Cli built by TestMain.
var fakeBin string

func TestMain(m *testing.M) {
	os.Exit(buildFakeAndRun(m))
}

func buildFakeAndRun(m *testing.M) int {
	dir, err := os.MkdirTemp("", "dce-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	fakeBin = filepath.Join(dir, DefaultBin)
	cmd := exec.Command("go", "build", "-o", fakeBin, "../../testdata/fakedce")
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "build fakedce:", err)
		return 1
	}
	return m.Run()
}

type logLine struct {
	Argv     []string `json:"argv"`
	TokenSet bool     `json:"token_set"`
}

// fake writes a state file and returns a client that runs the fake with
// it, plus the path of the fake's invocation log.
func fake(t *testing.T, state string, token string) (*Client, string) {
	t.Helper()
	dir := t.TempDir()
	statePath := filepath.Join(dir, "state.json")
	if err := os.WriteFile(statePath, []byte(state), 0o644); err != nil {
		t.Fatal(err)
	}
	logPath := filepath.Join(dir, "log.jsonl")
	return &Client{
		Bin:   fakeBin,
		Token: token,
		Env:   []string{"FAKEDCE_STATE=" + statePath, "FAKEDCE_LOG=" + logPath, "PATH=" + os.Getenv("PATH")},
	}, logPath
}

func readLog(t *testing.T, path string) []logLine {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var out []logLine
	dec := json.NewDecoder(bytesReader(data))
	for dec.More() {
		var l logLine
		if err := dec.Decode(&l); err != nil {
			t.Fatal(err)
		}
		out = append(out, l)
	}
	return out
}
