package status

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/dcehost/dcehost/internal/cron"
)

// TimerJob is a systemd user timer written by `dcehost cron install
// --systemd`.
type TimerJob struct {
	TimerPath, ServicePath string
	// Schedule is the cron schedule recorded in the timer (nil when the
	// timer has none; ScheduleErr says why when it cannot be read).
	Schedule    *cron.Schedule
	ScheduleErr error
	// ExecStart is the service's command line, as written in the unit.
	ExecStart string
}

// UnitDir is the systemd user unit directory: $XDG_CONFIG_HOME/systemd/user,
// else ~/.config/systemd/user.
func UnitDir(getenv func(string) string) (string, error) {
	if d := getenv("XDG_CONFIG_HOME"); filepath.IsAbs(d) {
		return filepath.Join(d, "systemd", "user"), nil
	}
	home := getenv("HOME")
	if home == "" {
		return "", errors.New("systemd user unit directory: HOME is not set")
	}
	return filepath.Join(home, ".config", "systemd", "user"), nil
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
	timer, err := readManagedUnit(job.TimerPath)
	if err != nil || timer == "" {
		return nil, err
	}
	service, err := readManagedUnit(job.ServicePath)
	if err != nil {
		return nil, err
	}
	job.Schedule, job.ScheduleErr = cron.TimerSchedule(timer)
	for _, line := range strings.Split(service, "\n") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), "ExecStart="); ok {
			job.ExecStart = v
		}
	}
	return job, nil
}

// readManagedUnit returns a unit file written by dcehost ("" when it does
// not exist or was not written by dcehost).
func readManagedUnit(path string) (string, error) {
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("read %s: %w", path, err)
	}
	if !strings.HasPrefix(string(data), cron.UnitMarker+"\n") {
		return "", nil
	}
	return string(data), nil
}
