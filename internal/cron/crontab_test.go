package cron

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"
)

type exitErr int

func (e exitErr) Error() string { return fmt.Sprintf("exit status %d", int(e)) }
func (e exitErr) ExitCode() int { return int(e) }

// memCrontab behaves like crontab -l / crontab - on one user's table.
type memCrontab struct {
	data     []byte
	exists   bool
	calls    [][]string
	failLs   error
	failLsMs string
}

func (m *memCrontab) Run(_ context.Context, argv []string, stdin io.Reader, stdout, stderr io.Writer) error {
	m.calls = append(m.calls, argv)
	switch argv[len(argv)-1] {
	case "-l":
		if m.failLs != nil {
			io.WriteString(stderr, m.failLsMs)
			return m.failLs
		}
		if !m.exists {
			io.WriteString(stderr, "no crontab for tester\n")
			return exitErr(1)
		}
		_, err := stdout.Write(m.data)
		return err
	case "-":
		data, err := io.ReadAll(stdin)
		if err != nil {
			return err
		}
		if len(data) > 0 && data[len(data)-1] != '\n' {
			io.WriteString(stderr, "new crontab file is missing newline before EOF, can't install.\n")
			return exitErr(1)
		}
		m.data, m.exists = data, true
		return nil
	}
	return fmt.Errorf("unexpected argv %q", argv)
}

func TestCrontabReadWrite(t *testing.T) {
	ctx := context.Background()
	m := &memCrontab{}
	c := &Crontab{Bin: "/usr/bin/crontab", Args: []string{"-u", "tester"}, Runner: m}
	got, err := c.Read(ctx)
	if err != nil || len(got) != 0 {
		t.Fatalf("Read of a missing crontab = %q, %v; want empty", got, err)
	}
	if err := c.Write(ctx, []byte("0 1 * * * /bin/true\n")); err != nil {
		t.Fatal(err)
	}
	got, err = c.Read(ctx)
	if err != nil || string(got) != "0 1 * * * /bin/true\n" {
		t.Fatalf("Read = %q, %v", got, err)
	}
	want := [][]string{
		{"/usr/bin/crontab", "-u", "tester", "-l"},
		{"/usr/bin/crontab", "-u", "tester", "-"},
		{"/usr/bin/crontab", "-u", "tester", "-l"},
	}
	if fmt.Sprint(m.calls) != fmt.Sprint(want) {
		t.Errorf("calls = %q, want %q", m.calls, want)
	}
	err = c.Write(ctx, []byte("no newline"))
	var ce *CrontabError
	if !errors.As(err, &ce) || !strings.Contains(err.Error(), "missing newline") {
		t.Errorf("Write error = %v, want a *CrontabError with crontab's message", err)
	}
}

func TestCrontabReadFailures(t *testing.T) {
	ctx := context.Background()
	m := &memCrontab{failLs: exitErr(1), failLsMs: "crontab: you (tester) are not allowed to use this program\n"}
	_, err := (&Crontab{Runner: m}).Read(ctx)
	var ce *CrontabError
	if !errors.As(err, &ce) || !strings.Contains(err.Error(), "not allowed") || ExitCode(err) != 1 {
		t.Errorf("Read = %v, want a *CrontabError passing crontab's message", err)
	}
	if m.calls[0][0] != "crontab" {
		t.Errorf("default binary = %q", m.calls[0][0])
	}
	for _, bin := range []string{"/nonexistent/crontab", "dcehost-no-such-crontab"} {
		_, err = (&Crontab{Bin: bin, Runner: ExecRunner{}}).Read(ctx)
		if !errors.As(err, &ce) || !strings.Contains(err.Error(), CrontabBinVar) || !strings.Contains(err.Error(), bin) {
			t.Errorf("Read with missing %s = %v, want a *CrontabError naming it and %s", bin, err, CrontabBinVar)
		}
	}
}
