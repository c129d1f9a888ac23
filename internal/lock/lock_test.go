package lock

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// helperEnv makes the test binary act as a lock holder: it takes the lock
// named by the variable, prints "locked", and waits on stdin.
const helperEnv = "DCEHOST_LOCK_TEST_HOLD"

func TestMain(m *testing.M) {
	if path := os.Getenv(helperEnv); path != "" {
		l, err := Acquire(path, Holder{PID: os.Getpid(), Started: time.Now(), Cmd: "dcehost scrape --target holder"})
		if err != nil {
			fmt.Println("error:", err)
			os.Exit(1)
		}
		fmt.Println("locked")
		_, _ = bufio.NewReader(os.Stdin).ReadString('\n') // until the parent closes stdin or kills us
		_ = l.Release()
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// startHolder starts a child process holding the lock at path and returns
// once it holds it.
func startHolder(t *testing.T, path string) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), helperEnv+"="+path)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = stdin.Close()
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil || strings.TrimSpace(line) != "locked" {
		t.Fatalf("holder did not take the lock: %q, %v", line, err)
	}
	return cmd
}

func TestDefaultPath(t *testing.T) {
	tests := []struct{ override, root, want string }{
		{"", "/home/me/Documents", "/home/me/Documents/.dce-scrape.lock"},
		{"/run/dce.lock", "/home/me/Documents", "/run/dce.lock"},
	}
	for _, tt := range tests {
		if got := Path(tt.override, tt.root); got != tt.want {
			t.Errorf("Path(%q, %q) = %q, want %q", tt.override, tt.root, got, tt.want)
		}
	}
}

func TestAcquireWritesHolderAndReleaseRemovesIt(t *testing.T) {
	path := DefaultPath(t.TempDir())
	started := time.Date(2026, 6, 4, 12, 0, 0, 0, time.UTC)
	l, err := Acquire(path, Holder{PID: 4242, Started: started, Cmd: "dcehost scrape\n--target x"})
	if err != nil {
		t.Fatal(err)
	}
	h, err := ReadHolder(MetaPath(path))
	if err != nil {
		t.Fatal(err)
	}
	want := Holder{PID: 4242, Started: started, Cmd: "dcehost scrape --target x"}
	if h != want {
		t.Fatalf("holder = %+v, want %+v", h, want)
	}
	if err := l.Release(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(MetaPath(path)); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("holder file after release: %v", err)
	}
	// Free again: a second acquire in the same process works.
	l2, err := Acquire(path, Holder{PID: 1})
	if err != nil {
		t.Fatalf("acquire after release: %v", err)
	}
	if err := l2.Release(); err != nil {
		t.Fatal(err)
	}
}

func TestHeldByAnotherProcessThenFreedByKill(t *testing.T) {
	path := DefaultPath(t.TempDir())
	holder := startHolder(t, path)

	_, err := Acquire(path, Holder{PID: os.Getpid(), Started: time.Now(), Cmd: "second"})
	var held *HeldError
	if !errors.As(err, &held) {
		t.Fatalf("Acquire while held = %v, want *HeldError", err)
	}
	if held.Holder.PID != holder.Process.Pid {
		t.Fatalf("holder pid = %d, want %d", held.Holder.PID, holder.Process.Pid)
	}
	if !strings.Contains(err.Error(), "pid "+strconv.Itoa(holder.Process.Pid)) || !strings.Contains(err.Error(), "--target holder") {
		t.Fatalf("error does not name the holder: %v", err)
	}

	// SIGKILL gives the holder no chance to clean up; the kernel releases
	// the flock when the process is gone.
	if err := holder.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = holder.Wait()
	l, err := Acquire(path, Holder{PID: os.Getpid(), Started: time.Now(), Cmd: "after kill"})
	if err != nil {
		t.Fatalf("Acquire after the holder was killed: %v", err)
	}
	h, err := ReadHolder(MetaPath(path))
	if err != nil || h.PID != os.Getpid() || h.Cmd != "after kill" {
		t.Fatalf("stale holder not replaced: %+v, %v", h, err)
	}
	if err := l.Release(); err != nil {
		t.Fatal(err)
	}
}

func TestHeldWithoutSidecar(t *testing.T) {
	path := DefaultPath(t.TempDir())
	startHolder(t, path)
	if err := os.Remove(MetaPath(path)); err != nil {
		t.Fatal(err)
	}
	_, err := Acquire(path, Holder{PID: os.Getpid()})
	var held *HeldError
	if !errors.As(err, &held) || held.Holder.PID != 0 || !strings.Contains(err.Error(), "holder unknown") {
		t.Fatalf("Acquire = %v, want *HeldError with an unknown holder", err)
	}
}

func TestAcquireMissingDirectory(t *testing.T) {
	path := filepath.Join(t.TempDir(), "no-such-dir", FileName)
	_, err := Acquire(path, Holder{PID: 1})
	var held *HeldError
	if err == nil || errors.As(err, &held) || !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("Acquire in a missing directory = %v, want a not-exist error", err)
	}
}

func TestReadHolder(t *testing.T) {
	tests := []struct {
		name, content string
		want          Holder
	}{
		{"full", "pid=12\nstarted=2026-06-04T12:00:00Z\ncmd=dcehost scrape --target a=b\n",
			Holder{PID: 12, Started: time.Date(2026, 6, 4, 12, 0, 0, 0, time.UTC), Cmd: "dcehost scrape --target a=b"}},
		{"garbage fields stay zero", "pid=x\nstarted=yesterday\nnoise\n", Holder{}},
		{"empty", "", Holder{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := filepath.Join(t.TempDir(), "meta")
			if err := os.WriteFile(p, []byte(tt.content), 0o644); err != nil {
				t.Fatal(err)
			}
			got, err := ReadHolder(p)
			if err != nil || got != tt.want {
				t.Fatalf("ReadHolder = %+v, %v; want %+v", got, err, tt.want)
			}
		})
	}
}

func TestAcquireRemovesHolderTempOfAKilledRun(t *testing.T) {
	root := t.TempDir()
	path := DefaultPath(root)
	// What a run killed while writing its holder file leaves behind.
	stale := filepath.Join(root, "."+filepath.Base(MetaPath(path))+"5577006791947779410")
	if err := os.WriteFile(stale, []byte("pid=1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	l, err := Acquire(path, Holder{PID: 2})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Release()
	if _, err := os.Stat(stale); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("stale holder temp still there: %v", err)
	}
}
