package cron

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// UnitDir is the systemd user unit directory: $XDG_CONFIG_HOME/systemd/user,
// else ~/.config/systemd/user.
func UnitDir(getenv func(string) string) (string, error) {
	if d := getenv("XDG_CONFIG_HOME"); filepath.IsAbs(d) {
		return filepath.Join(d, "systemd", "user"), nil
	}
	home := getenv("HOME")
	if home == "" {
		var err error
		if home, err = os.UserHomeDir(); err != nil {
			return "", fmt.Errorf("systemd user unit directory: %w", err)
		}
	}
	return filepath.Join(home, ".config", "systemd", "user"), nil
}

// ReadUnit returns a unit file's text and whether dcehost wrote it (it
// begins with UnitMarker). A missing file is an error that matches
// fs.ErrNotExist.
func ReadUnit(path string) (text string, ours bool, err error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return "", false, fmt.Errorf("read %s: %w", path, err)
	}
	return string(data), strings.HasPrefix(string(data), UnitMarker+"\n"), nil
}

// TimerJob is a systemd user timer written by `dcehost cron install
// --systemd`.
type TimerJob struct {
	TimerPath, ServicePath string
	// Schedule is the cron schedule recorded in the timer (nil when the
	// timer has none; ScheduleErr says why when it cannot be read).
	Schedule    *Schedule
	ScheduleErr error
	// ExecStart is the service's command line, as written in the unit.
	ExecStart string
}

// InstalledTimer returns the timer and service of jobName written by
// dcehost (nil when there is no such timer, or no home directory to hold
// one; unit files dcehost did not write are ignored).
func InstalledTimer(getenv func(string) string, jobName string) (*TimerJob, error) {
	dir, err := UnitDir(getenv)
	if err != nil {
		return nil, nil
	}
	job := &TimerJob{
		TimerPath:   filepath.Join(dir, jobName+".timer"),
		ServicePath: filepath.Join(dir, jobName+".service"),
	}
	timer, ours, err := ReadUnit(job.TimerPath)
	if errors.Is(err, fs.ErrNotExist) || (err == nil && !ours) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	service, ours, err := ReadUnit(job.ServicePath)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, err
	}
	if !ours {
		service = ""
	}
	job.Schedule, job.ScheduleErr = TimerSchedule(timer)
	for _, line := range strings.Split(service, "\n") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), "ExecStart="); ok {
			job.ExecStart = v
		}
	}
	return job, nil
}
