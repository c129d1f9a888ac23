package cron

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	dcron "github.com/dcehost/dcehost/internal/cron"
	"github.com/dcehost/dcehost/internal/failure"
)

func (e *env) unitDir() string { return filepath.Join(e.home, ".config", "systemd", "user") }

func (e *env) readFile(path string) string {
	e.t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		e.t.Fatal(err)
	}
	return string(data)
}

func TestSystemdInstallShowRemove(t *testing.T) {
	e := newEnv(t)
	service := filepath.Join(e.unitDir(), "discord-scrape.service")
	timer := filepath.Join(e.unitDir(), "discord-scrape.timer")
	withSystemd := func(o *InstallOptions) { o.Systemd = true }

	// Dry run: nothing written, no directory created.
	if err := e.install(func(o *InstallOptions) { o.Systemd, o.DryRun = true, true }); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(e.home); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("dry run created %s", e.home)
	}
	mustContain(t, "output", e.out.String(), "+++ "+timer+" (after install)", "+OnCalendar=*-*-01 04:00:00", "+Persistent=true",
		"systemctl --user enable --now discord-scrape.timer", "dry run: nothing was written")

	if err := e.install(withSystemd); err != nil {
		t.Fatalf("install --systemd: %v\n%s", err, e.errOut)
	}
	mustContain(t, "service", e.readFile(service), "Type=oneshot\n", "Environment=DCE_DOCKER_BIN="+e.docker+"\n",
		"ExecStart="+e.exe+" scrape --env-file "+e.envFile+" --config "+e.config+" --log-file "+filepath.Join(e.dir, "discord", "logs", "scrape.log")+"\n")
	mustContain(t, "timer", e.readFile(timer), "# schedule: 0 4 1 * *\n", "OnCalendar=*-*-01 04:00:00\n", "Persistent=true\n", "WantedBy=timers.target\n")
	if got := strings.Join(e.runner.callsOf("systemctl"), "; "); got != "systemctl --user daemon-reload; systemctl --user enable --now discord-scrape.timer" {
		t.Errorf("systemctl calls: %s", got)
	}
	if len(e.runner.preflights()) != 1 {
		t.Errorf("preflight ran %d times", len(e.runner.preflights()))
	}
	for _, c := range e.runner.calls {
		if strings.Contains(c[0], "crontab") {
			t.Errorf("--systemd touched the crontab: %q", c)
		}
	}
	mustContain(t, "stderr", e.errOut.String(), "loginctl enable-linger")
	if strings.Contains(e.readFile(service)+e.readFile(timer), secret) {
		t.Error("the token is in a unit file")
	}

	// Same again: nothing changed.
	calls := len(e.runner.calls)
	if err := e.install(withSystemd); err != nil {
		t.Fatal(err)
	}
	if len(e.runner.calls) != calls {
		t.Errorf("reinstall ran %q", e.runner.calls[calls:])
	}
	mustContain(t, "output", e.out.String(), "already installed")

	// A new schedule: old files backed up, timer rewritten.
	if err := e.install(func(o *InstallOptions) { o.Systemd, o.Schedule = true, "0 0 13 * 5" }); err != nil {
		t.Fatal(err)
	}
	mustContain(t, "timer", e.readFile(timer), "OnCalendar=*-*-13 00:00:00\nOnCalendar=Fri *-*-* 00:00:00\n")
	backups, _ := filepath.Glob(filepath.Join(e.home, ".local", "state", "dcehost", "discord-scrape.timer-backup-*.txt"))
	if len(backups) != 1 || !strings.Contains(e.readFile(backups[0]), "OnCalendar=*-*-01 04:00:00") {
		t.Errorf("timer backups = %v", backups)
	}

	if err := e.show(func(o *ShowOptions) { o.Systemd = true }); err != nil {
		t.Fatal(err)
	}
	mustContain(t, "output", e.out.String(), timer+":\n", "schedule: 0 0 13 * 5 (on day 13 of the month or on Friday at 00:00)",
		"Fri 2026-12-04 00:00 UTC", "Fri 2026-12-11 00:00 UTC", "Sun 2026-12-13 00:00 UTC")

	// remove --dry-run, then remove.
	if err := e.remove(func(o *RemoveOptions) { o.Systemd, o.DryRun = true, true }); err != nil {
		t.Fatal(err)
	}
	e.readFile(timer)
	calls = len(e.runner.callsOf("systemctl"))
	if err := e.remove(func(o *RemoveOptions) { o.Systemd = true }); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{service, timer} {
		if _, err := os.Stat(p); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("%s still exists", p)
		}
	}
	if got := strings.Join(e.runner.callsOf("systemctl")[calls:], "; "); got != "systemctl --user disable --now discord-scrape.timer; systemctl --user daemon-reload" {
		t.Errorf("remove systemctl calls: %s", got)
	}
	if err := e.remove(func(o *RemoveOptions) { o.Systemd = true }); err != nil {
		t.Fatal(err)
	}
	mustContain(t, "output", e.out.String(), "nothing changed")
	var none *NoJobError
	if err := e.show(func(o *ShowOptions) { o.Systemd = true }); !errors.As(err, &none) {
		t.Errorf("show --systemd after remove = %v, want *NoJobError", err)
	}
}

func TestSystemdRefusals(t *testing.T) {
	e := newEnv(t)
	// @reboot has no calendar time.
	if err := e.install(func(o *InstallOptions) { o.Systemd, o.Schedule = true, "@reboot" }); !failure.IsUsage(err) {
		t.Errorf("--systemd @reboot = %v, want a usage error", err)
	}
	// A unit file dcehost did not write is left alone.
	foreign := filepath.Join(e.unitDir(), "discord-scrape.timer")
	e.write(foreign, "[Timer]\nOnCalendar=daily\n")
	for name, run := range map[string]func() error{
		"install": func() error { return e.install(func(o *InstallOptions) { o.Systemd = true }) },
		"remove":  func() error { return e.remove(func(o *RemoveOptions) { o.Systemd = true }) },
		"show":    func() error { return e.show(func(o *ShowOptions) { o.Systemd = true }) },
	} {
		if err := run(); !failure.IsUsage(err) || !strings.Contains(err.Error(), "not written by dcehost") {
			t.Errorf("%s over a foreign unit = %v", name, err)
		}
	}
	if e.readFile(foreign) != "[Timer]\nOnCalendar=daily\n" || len(e.runner.callsOf("systemctl")) != 0 {
		t.Error("the foreign unit was touched")
	}
}

func TestSystemdFailures(t *testing.T) {
	e := newEnv(t)
	e.runner.preflightCode = 4
	err := e.install(func(o *InstallOptions) { o.Systemd = true })
	var silent *failure.SilentError
	if !errors.As(err, &silent) || silent.Code != 4 {
		t.Fatalf("failing preflight = %v, want exit 4", err)
	}
	if _, err := os.Stat(e.unitDir()); !errors.Is(err, os.ErrNotExist) {
		t.Error("a failing preflight left unit files")
	}
	e.runner.preflightCode = 0
	e.runner.systemctlErr = exitStatus(1)
	err = e.install(func(o *InstallOptions) { o.Systemd = true })
	if err == nil || failure.IsUsage(err) || !strings.Contains(err.Error(), "the unit files are written") || !strings.Contains(err.Error(), "Failed to connect to bus") {
		t.Errorf("systemctl failure = %v", err)
	}
	if !strings.HasPrefix(e.readFile(filepath.Join(e.unitDir(), "discord-scrape.timer")), dcron.UnitMarker) {
		t.Error("timer not written")
	}
}
