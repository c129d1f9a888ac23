package cron

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os/exec"
	"strings"
)

// Runner runs a program (argv[0] with argv[1:]) with the given stdin,
// stdout and stderr, directly, never through a shell. A program that ran
// and failed is reported by an error with an ExitCode() int method
// (*exec.ExitError does).
type Runner interface {
	Run(ctx context.Context, argv []string, stdin io.Reader, stdout, stderr io.Writer) error
}

// ExecRunner runs real programs with the process environment.
type ExecRunner struct{}

// Run implements Runner with exec.CommandContext.
func (ExecRunner) Run(ctx context.Context, argv []string, stdin io.Reader, stdout, stderr io.Writer) error {
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = stdin, stdout, stderr
	return cmd.Run()
}

// ExitCode returns the exit status carried by err, or -1 when err does
// not come from a program that ran.
func ExitCode(err error) int {
	var coder interface{ ExitCode() int }
	if errors.As(err, &coder) {
		return coder.ExitCode()
	}
	return -1
}

// CrontabBinVar names the variable that overrides the crontab program.
const CrontabBinVar = "DCE_CRONTAB_BIN"

// Crontab reads and writes one user's crontab with the crontab command.
type Crontab struct {
	Bin    string   // "crontab" when empty
	Args   []string // put before -l / - (for example -u USER)
	Runner Runner
}

func (c *Crontab) argv(last string) []string {
	bin := c.Bin
	if bin == "" {
		bin = "crontab"
	}
	return append(append([]string{bin}, c.Args...), last)
}

// CrontabError reports a crontab command that failed.
type CrontabError struct {
	Argv   []string
	Err    error
	Stderr string
}

func (e *CrontabError) Error() string {
	msg := fmt.Sprintf("%s: %v", strings.Join(e.Argv, " "), e.Err)
	if s := strings.TrimSpace(e.Stderr); s != "" {
		msg += ": " + s
	}
	var notFound *exec.Error
	if errors.As(e.Err, &notFound) || errors.Is(e.Err, fs.ErrNotExist) {
		msg += " (install cron, or set " + CrontabBinVar + " to the crontab program)"
	}
	return msg
}

func (e *CrontabError) Unwrap() error { return e.Err }

// Read returns the current crontab; a user without one has an empty one
// (crontab -l then says "no crontab for USER" and exits 1).
func (c *Crontab) Read(ctx context.Context) ([]byte, error) {
	argv := c.argv("-l")
	var out, errOut bytes.Buffer
	err := c.Runner.Run(ctx, argv, nil, &out, &errOut)
	if err != nil {
		if ExitCode(err) == 1 && strings.Contains(strings.ToLower(errOut.String()), "no crontab for") {
			return nil, nil
		}
		return nil, &CrontabError{Argv: argv, Err: err, Stderr: errOut.String()}
	}
	return out.Bytes(), nil
}

// Write replaces the crontab with data (crontab - reading standard input).
func (c *Crontab) Write(ctx context.Context, data []byte) error {
	argv := c.argv("-")
	var out, errOut bytes.Buffer
	if err := c.Runner.Run(ctx, argv, bytes.NewReader(data), &out, &errOut); err != nil {
		return &CrontabError{Argv: argv, Err: err, Stderr: errOut.String() + out.String()}
	}
	return nil
}
