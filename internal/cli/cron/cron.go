// Package cron implements `dcehost cron install | remove | show`: one
// managed block in the user's crontab that runs `dcehost scrape` on a
// schedule.
package cron

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/pmezard/go-difflib/difflib"
	"github.com/spf13/cobra"

	"github.com/dcehost/dcehost/internal/atomicfile"
	"github.com/dcehost/dcehost/internal/cli/factory"
	dcron "github.com/dcehost/dcehost/internal/cron"
	"github.com/dcehost/dcehost/internal/failure"
	"github.com/dcehost/dcehost/internal/iostreams"
	"github.com/dcehost/dcehost/internal/settings"
)

// Common are the inputs every cron subcommand shares.
type Common struct {
	IO *iostreams.IOStreams
	// Getenv reads the process environment (DCE_CRONTAB_BIN, HOME,
	// XDG_STATE_HOME).
	Getenv func(string) string
	Now    func() time.Time
	// Runner starts crontab and the preflight child.
	Runner dcron.Runner
	// CrontabArgs go before -l / - on every crontab call. Not a flag:
	// tests use it to work on a throwaway user's crontab (-u USER).
	CrontabArgs []string

	JobName   string
	DryRun    bool
	BackupDir string
	// Systemd works on a systemd user service + timer instead of the
	// crontab.
	Systemd bool
	// UnitDir is where the user units live ("" = $XDG_CONFIG_HOME/systemd/user,
	// else ~/.config/systemd/user). Not a flag.
	UnitDir string
}

func (c *Common) fill(f *factory.Factory) {
	c.IO = f.IO
	c.Getenv = f.Getenv
	c.Now = f.Now
	c.Runner = dcron.ExecRunner{}
}

func (c *Common) crontab() *dcron.Crontab {
	return &dcron.Crontab{Bin: c.Getenv(dcron.CrontabBinVar), Args: c.CrontabArgs, Runner: c.Runner}
}

func (c *Common) checkJobName() error {
	if err := dcron.CheckJobName(c.JobName); err != nil {
		return failure.Usagef("--job-name: %w", err)
	}
	return nil
}

// NewCmdCron returns the `dcehost cron` group.
func NewCmdCron(f *factory.Factory) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "cron <command>",
		Short: "Schedule scrapes in your crontab: install, remove, show",
		Long: `Manage one block in your crontab that runs "dcehost scrape" on a schedule:

  # BEGIN discord-scrape
  # managed by dcehost: ...
  0 4 1 * * /abs/path/dcehost scrape --env-file ... --config ... --log-file ...
  # END discord-scrape

Every other line of the crontab is kept byte for byte. A block of the same
job name written by the old shell installer is taken over, not duplicated.
The crontab program is "crontab", or DCE_CRONTAB_BIN when set.`,
	}
	cmd.AddCommand(NewCmdInstall(f, nil), NewCmdRemove(f, nil), NewCmdShow(f, nil))
	return cmd
}

func addCommonFlags(cmd *cobra.Command, c *Common, dryRun bool) {
	fl := cmd.Flags()
	fl.StringVar(&c.JobName, "job-name", dcron.DefaultJobName, "name of the crontab block (# BEGIN <name> ... # END <name>), or of the systemd units with --systemd")
	fl.BoolVar(&c.Systemd, "systemd", false, "use a systemd user timer (<job-name>.timer + .service in ~/.config/systemd/user) instead of the crontab")
	if dryRun {
		fl.BoolVar(&c.DryRun, "dry-run", false, "print the crontab diff and change nothing")
		fl.StringVar(&c.BackupDir, "backup-dir", "", "where the previous crontab is saved before a change (default $XDG_STATE_HOME/dcehost, else ~/.local/state/dcehost)")
	}
}

// diff renders a unified diff of the crontab before and after.
// diff is the unified diff of file (a label: "crontab" or a unit file's
// path) before and after the change what ("install", "remove").
func diff(file string, before, after []byte, what string) string {
	text, err := difflib.GetUnifiedDiffString(difflib.UnifiedDiff{
		A:        splitLines(before),
		B:        splitLines(after),
		FromFile: file + " (now)",
		ToFile:   file + " (after " + what + ")",
		Context:  3,
	})
	if err != nil {
		// difflib only fails writing to its own buffer.
		return fmt.Sprintf("(no diff: %v)\n", err)
	}
	return text
}

// splitLines splits data into lines that each end with a newline, for
// the diff.
func splitLines(data []byte) []string {
	lines := strings.SplitAfter(string(data), "\n")
	if lines[len(lines)-1] == "" {
		lines = lines[:len(lines)-1]
	} else {
		lines[len(lines)-1] += "\n"
	}
	return lines
}

// printNext prints the next n run times of sched.
func printNext(w io.Writer, sched *dcron.Schedule, now time.Time, n int) {
	if sched.Reboot {
		fmt.Fprintln(w, "next runs: at the next boot (no fixed times)")
		return
	}
	fmt.Fprintf(w, "next runs (this machine's time, %s):\n", now.Format("MST"))
	for _, t := range sched.Next(now, n) {
		fmt.Fprintf(w, "  %s\n", t.Format("Mon 2006-01-02 15:04 MST"))
	}
}

// backupDir is where previous crontabs are saved.
func (c *Common) backupDir() (string, error) {
	if c.BackupDir != "" {
		return filepath.Abs(c.BackupDir)
	}
	if d := c.Getenv("XDG_STATE_HOME"); filepath.IsAbs(d) {
		return filepath.Join(d, "dcehost"), nil
	}
	home := c.Getenv("HOME")
	if home == "" {
		var err error
		if home, err = os.UserHomeDir(); err != nil {
			return "", fmt.Errorf("crontab backup directory: %w (set --backup-dir)", err)
		}
	}
	return filepath.Join(home, ".local", "state", "dcehost"), nil
}

// backup saves the crontab as it is before a change and returns the
// file's path.
func (c *Common) backup(data []byte) (string, error) {
	return c.backupNamed("crontab", data)
}

// backupNamed saves data as <name>-backup-<UTC time>.txt in the backup
// directory: temp file in the same directory, fsync, rename, fsync of the
// directory. An existing backup is never overwritten.
func (c *Common) backupNamed(name string, data []byte) (string, error) {
	dir, err := c.backupDir()
	if err != nil {
		return "", err
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", fmt.Errorf("backup directory %s: %w", dir, err)
	}
	base := name + "-backup-" + c.Now().UTC().Format("20060102T150405Z")
	path := filepath.Join(dir, base+".txt")
	for i := 2; ; i++ {
		if _, err := os.Lstat(path); errors.Is(err, os.ErrNotExist) {
			break
		}
		path = filepath.Join(dir, fmt.Sprintf("%s-%d.txt", base, i))
	}
	if err := atomicfile.WriteFile(path, data, 0o600); err != nil {
		return "", fmt.Errorf("crontab backup: %w", err)
	}
	return path, nil
}

// change backs up current and writes next to the crontab; it returns the
// backup's path.
func (c *Common) change(ctx context.Context, ct *dcron.Crontab, current, next []byte) (string, error) {
	// The crontab may have been edited since it was read (install runs a
	// preflight in between): never overwrite an edit made meanwhile.
	again, err := ct.Read(ctx)
	if err != nil {
		return "", fmt.Errorf("read the crontab again before writing: %w; the crontab was not changed", err)
	}
	if !bytes.Equal(again, current) {
		return "", &ChangedMeanwhileError{}
	}
	saved, err := c.backup(current)
	if err != nil {
		return "", fmt.Errorf("%w; the crontab was not changed", err)
	}
	if err := ct.Write(ctx, next); err != nil {
		return saved, fmt.Errorf("write the crontab: %w (the previous crontab is saved in %s)", err, saved)
	}
	return saved, nil
}

// ChangedMeanwhileError: the crontab changed between reading it and
// writing it; nothing was written.
type ChangedMeanwhileError struct{}

func (e *ChangedMeanwhileError) Error() string {
	return "the crontab was changed by someone else while dcehost was working on it; nothing was written, run the command again"
}

// resolveExecutable returns the absolute path of this dcehost with
// symbolic links resolved, checked to be an executable file.
func resolveExecutable(executable func() (string, error)) (string, error) {
	exe, err := executable()
	if err != nil {
		return "", fmt.Errorf("find this dcehost binary: %w", err)
	}
	if exe, err = filepath.Abs(exe); err != nil {
		return "", fmt.Errorf("find this dcehost binary: %w", err)
	}
	resolved, err := filepath.EvalSymlinks(exe)
	if err != nil {
		return "", fmt.Errorf("dcehost binary %s: %w", exe, err)
	}
	fi, err := os.Stat(resolved)
	if err != nil {
		return "", fmt.Errorf("dcehost binary %s: %w", resolved, err)
	}
	if fi.IsDir() || fi.Mode()&0o111 == 0 {
		return "", fmt.Errorf("dcehost binary %s: not an executable file", resolved)
	}
	return resolved, nil
}

// lookPathDefault is exec.LookPath.
var lookPathDefault = exec.LookPath

// processOnly lists the settings that were given in the process
// environment only: cron will not have them.
func processOnly(s *settings.Settings) []string {
	var keys []string
	// A nil *EnvFile has no keys; the env file was read moments ago.
	file, _ := settings.ParseEnvFile(s.EnvFile)
	for _, k := range []string{
		settings.DiscordToken, settings.DiscordTokenFile, settings.ComposeFileVar, settings.ComposeBinVar,
		settings.DockerBinVar, settings.ContainerMemoryVar, settings.UIDVar, settings.GIDVar,
		settings.UsernsModeVar, settings.MinFreeMBVar, settings.LockFileVar, settings.SummaryFileVar,
		settings.CLIBinVar, settings.ArchiveRootVar, settings.TZVar,
	} {
		if _, src, ok := s.Lookup(k); ok && src == settings.FromProcess {
			if _, inFile := file.Lookup(k); !inFile {
				keys = append(keys, k)
			}
		}
	}
	return keys
}

// crontabWarnings notes what in the crontab itself could surprise.
func crontabWarnings(w io.Writer, current []byte) {
	if strings.Contains(string(current), "\r\n") {
		fmt.Fprintln(w, "warning: your crontab has Windows (CRLF) line endings; cron reads the CR as part of those lines. They are kept as they are; dcehost's block uses plain newlines.")
	}
}
