package cron

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/dcehost/dcehost/internal/atomicfile"
	dcron "github.com/dcehost/dcehost/internal/cron"
	"github.com/dcehost/dcehost/internal/failure"
)

// unitFiles are the paths of a job's service and timer.
type unitFiles struct {
	service, timer string
}

func (c *Common) unitDir() (string, error) {
	if c.UnitDir != "" {
		return filepath.Abs(c.UnitDir)
	}
	return dcron.UnitDir(c.Getenv)
}

func (c *Common) units() (unitFiles, error) {
	dir, err := c.unitDir()
	if err != nil {
		return unitFiles{}, err
	}
	return unitFiles{
		service: filepath.Join(dir, c.JobName+".service"),
		timer:   filepath.Join(dir, c.JobName+".timer"),
	}, nil
}

// readUnits returns the job's unit paths and the text of its service and
// timer ("" for a file that does not exist).
func (c *Common) readUnits() (files unitFiles, service, timer string, err error) {
	if files, err = c.units(); err != nil {
		return files, "", "", err
	}
	if service, err = readUnit(files.service); err != nil {
		return files, "", "", err
	}
	timer, err = readUnit(files.timer)
	return files, service, timer, err
}

// readUnit returns a unit file's contents ("" when it does not exist)
// and refuses one dcehost did not write.
func readUnit(path string) (string, error) {
	text, ours, err := dcron.ReadUnit(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return "", nil
	case err != nil:
		return "", err
	case !ours:
		return "", failure.Usagef("%s exists and was not written by dcehost; it is left alone (choose another --job-name, or move it away)", path)
	}
	return text, nil
}

func (c *Common) systemctl(ctx context.Context, args ...string) error {
	argv := append([]string{"systemctl", "--user"}, args...)
	var errOut bytes.Buffer
	if err := c.Runner.Run(ctx, argv, nil, c.IO.Out, &errOut); err != nil {
		msg := strings.TrimSpace(errOut.String())
		if msg != "" {
			return fmt.Errorf("%s: %w: %s", strings.Join(argv, " "), err, msg)
		}
		return fmt.Errorf("%s: %w", strings.Join(argv, " "), err)
	}
	return nil
}

// writeUnit writes a unit file atomically (temp file, fsync, rename,
// fsync of the directory).
func writeUnit(path, text string) error {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("unit directory %s: %w", dir, err)
	}
	if err := atomicfile.WriteFile(path, []byte(text), 0o644); err != nil {
		return fmt.Errorf("unit file: %w", err)
	}
	return nil
}

const lingerHint = "note: a user timer runs only while your user manager runs; to have it run when you are not logged in: loginctl enable-linger $USER"

func runInstallSystemd(ctx context.Context, o *InstallOptions, p *plan) error {
	units, err := dcron.RenderUnits(o.JobName, p.sched, p.job)
	if err != nil {
		return failure.Usage(err)
	}
	files, oldService, oldTimer, err := o.readUnits()
	if err != nil {
		return err
	}
	out := o.IO.Out
	now := o.Now()
	if oldService == units.Service && oldTimer == units.Timer {
		fmt.Fprintf(out, "systemd timer %s.timer is already installed with this schedule and command; nothing changed.\n", o.JobName)
		fmt.Fprintf(out, "schedule: %s (%s)\n", p.sched.Expr, p.sched.Describe())
		printNext(out, p.sched, now, 3)
		return nil
	}
	if o.DryRun {
		fmt.Fprint(out, unitDiff(files.service, oldService, units.Service))
		fmt.Fprint(out, unitDiff(files.timer, oldTimer, units.Timer))
		fmt.Fprintf(out, "then: systemctl --user daemon-reload; systemctl --user enable --now %s.timer\n", o.JobName)
		fmt.Fprintf(out, "schedule: %s (%s)\n", p.sched.Expr, p.sched.Describe())
		printNext(out, p.sched, now, 3)
		fmt.Fprintln(out, "dry run: nothing was written, no preflight was run.")
		return nil
	}
	if !o.SkipPreflight {
		if err := o.preflight(ctx, p); err != nil {
			return err
		}
	}
	for _, old := range []struct{ path, text string }{{files.service, oldService}, {files.timer, oldTimer}} {
		if old.text == "" {
			continue
		}
		saved, err := o.backupNamed(filepath.Base(old.path), []byte(old.text))
		if err != nil {
			return fmt.Errorf("%w; nothing was changed", err)
		}
		fmt.Fprintf(out, "previous %s saved to %s\n", filepath.Base(old.path), saved)
	}
	if err := writeUnit(files.service, units.Service); err != nil {
		return err
	}
	if err := writeUnit(files.timer, units.Timer); err != nil {
		return err
	}
	fmt.Fprintf(out, "wrote %s\nwrote %s\n", files.service, files.timer)
	if err := o.systemctl(ctx, "daemon-reload"); err != nil {
		return fmt.Errorf("%w (the unit files are written; run 'systemctl --user daemon-reload && systemctl --user enable --now %s.timer' in your session)", err, o.JobName)
	}
	if err := o.systemctl(ctx, "enable", "--now", o.JobName+".timer"); err != nil {
		return fmt.Errorf("%w (the unit files are written; run 'systemctl --user enable --now %s.timer' in your session)", err, o.JobName)
	}
	fmt.Fprintf(out, "installed systemd timer %s.timer: %s (%s)\n", o.JobName, p.sched.Expr, p.sched.Describe())
	fmt.Fprintf(out, "log file: %s\n", p.job.LogFile)
	printNext(out, p.sched, now, 3)
	fmt.Fprintln(o.IO.ErrOut, lingerHint)
	return nil
}

func unitDiff(path, before, after string) string {
	if before == after {
		return ""
	}
	return diff(path, []byte(before), []byte(after), "install")
}

func runRemoveSystemd(ctx context.Context, o *RemoveOptions) error {
	files, oldService, oldTimer, err := o.readUnits()
	if err != nil {
		return err
	}
	out := o.IO.Out
	if oldService == "" && oldTimer == "" {
		fmt.Fprintf(out, "no systemd timer %s.timer written by dcehost in %s; nothing changed.\n", o.JobName, filepath.Dir(files.timer))
		return nil
	}
	if o.DryRun {
		fmt.Fprintf(out, "would run: systemctl --user disable --now %s.timer\n", o.JobName)
		for _, f := range []struct{ path, text string }{{files.timer, oldTimer}, {files.service, oldService}} {
			if f.text != "" {
				fmt.Fprintf(out, "would delete %s\n", f.path)
			}
		}
		fmt.Fprintln(out, "dry run: nothing was changed.")
		return nil
	}
	if oldTimer != "" {
		if err := o.systemctl(ctx, "disable", "--now", o.JobName+".timer"); err != nil {
			fmt.Fprintf(o.IO.ErrOut, "warning: %v; deleting the unit files anyway\n", err)
		}
	}
	for _, f := range []struct{ path, text string }{{files.timer, oldTimer}, {files.service, oldService}} {
		if f.text == "" {
			continue
		}
		saved, err := o.backupNamed(filepath.Base(f.path), []byte(f.text))
		if err != nil {
			return err
		}
		if err := os.Remove(f.path); err != nil {
			return fmt.Errorf("delete %s: %w (a copy is in %s)", f.path, err, saved)
		}
		if err := atomicfile.SyncDir(filepath.Dir(f.path)); err != nil {
			return fmt.Errorf("delete %s: %w", f.path, err)
		}
		fmt.Fprintf(out, "deleted %s (a copy is in %s)\n", f.path, saved)
	}
	if err := o.systemctl(ctx, "daemon-reload"); err != nil {
		fmt.Fprintf(o.IO.ErrOut, "warning: %v\n", err)
	}
	fmt.Fprintf(out, "removed systemd timer %s.timer\n", o.JobName)
	return nil
}

func runShowSystemd(_ context.Context, o *ShowOptions) error {
	files, service, timer, err := o.readUnits()
	if err != nil {
		return err
	}
	if timer == "" {
		return &NoJobError{Name: o.JobName, Where: files.timer}
	}
	out := o.IO.Out
	for _, f := range []struct{ path, text string }{{files.timer, timer}, {files.service, service}} {
		if f.text == "" {
			fmt.Fprintf(out, "%s: missing\n", f.path)
			continue
		}
		fmt.Fprintf(out, "%s:\n", f.path)
		for _, l := range strings.SplitAfter(strings.TrimRight(f.text, "\n"), "\n") {
			fmt.Fprintf(out, "  %s\n", strings.TrimRight(l, "\n"))
		}
	}
	sched, err := dcron.TimerSchedule(timer)
	if err != nil || sched == nil {
		fmt.Fprintf(out, "schedule: cannot be read from %s (%v)\n", files.timer, err)
		return nil
	}
	fmt.Fprintf(out, "schedule: %s (%s)\n", sched.Expr, sched.Describe())
	printNext(out, sched, o.Now(), 3)
	fmt.Fprintln(out, "(systemctl --user list-timers shows what systemd has loaded)")
	return nil
}
