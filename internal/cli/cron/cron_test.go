package cron

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/dcehost/dcehost/internal/failure"
)

const otherJobs = "MAILTO=me@example.org\n# backups\n30 2 * * * /usr/local/bin/backup.sh >> /var/log/backup.log 2>&1\n"

func TestInstallEmptyCrontab(t *testing.T) {
	e := newEnv(t)
	if err := e.install(nil); err != nil {
		t.Fatalf("install: %v\n%s", err, e.errOut)
	}
	want := "# BEGIN discord-scrape\n# managed by dcehost: change with 'dcehost cron install', delete with 'dcehost cron remove'\n" +
		e.jobLine("0 4 1 * *", "") + "\n# END discord-scrape\n"
	if got := string(e.runner.crontab); got != want {
		t.Errorf("crontab =\n%s\nwant\n%s", got, want)
	}
	pf := e.runner.preflights()
	wantPF := []string{e.exe, "preflight", "--env-file", e.envFile, "--config", e.config}
	if len(pf) != 1 || strings.Join(pf[0], " ") != strings.Join(wantPF, " ") {
		t.Errorf("preflight calls = %q, want one %q", pf, wantPF)
	}
	backups := e.backups()
	if len(backups) != 1 {
		t.Fatalf("backups = %v, want one", backups)
	}
	if data, err := os.ReadFile(backups[0]); err != nil || len(data) != 0 {
		t.Errorf("backup of an empty crontab = %q, %v", data, err)
	}
	if fi, err := os.Stat(backups[0]); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("backup mode = %v, %v; want 0600", fi.Mode(), err)
	}
	mustContain(t, "output", e.out.String(),
		`installed cron job "discord-scrape": 0 4 1 * * (on day 1 of every month at 04:00)`,
		"previous crontab saved to "+backups[0],
		"Fri 2027-01-01 04:00 UTC", "Mon 2027-02-01 04:00 UTC", "Mon 2027-03-01 04:00 UTC")
	if strings.Contains(string(e.runner.crontab), secret) || strings.Contains(e.out.String()+e.errOut.String(), secret) {
		t.Error("the token leaked into the crontab or the output")
	}
}

func TestInstallKeepsOtherLinesAndIsIdempotent(t *testing.T) {
	e := newEnv(t)
	e.runner.crontab, e.runner.hasCrontab = []byte(otherJobs), true
	if err := e.install(nil); err != nil {
		t.Fatal(err)
	}
	first := string(e.runner.crontab)
	if !strings.HasPrefix(first, otherJobs+"# BEGIN discord-scrape\n") {
		t.Fatalf("crontab =\n%s", first)
	}
	writes, calls := e.runner.writes, len(e.runner.preflights())
	if err := e.install(nil); err != nil {
		t.Fatal(err)
	}
	if e.runner.writes != writes || len(e.runner.preflights()) != calls || string(e.runner.crontab) != first {
		t.Errorf("reinstall wrote the crontab (%d writes) or ran preflight (%d)", e.runner.writes-writes, len(e.runner.preflights())-calls)
	}
	mustContain(t, "output", e.out.String(), "already installed", "nothing changed")
	if n := len(e.backups()); n != 1 {
		t.Errorf("%d backups after an install and an unchanged reinstall, want 1", n)
	}
}

func TestInstallChangedScheduleReplacesInPlace(t *testing.T) {
	e := newEnv(t)
	e.runner.crontab, e.runner.hasCrontab = []byte(otherJobs), true
	if err := e.install(nil); err != nil {
		t.Fatal(err)
	}
	e.runner.crontab = append(e.runner.crontab, "# after\n"...)
	if err := e.install(func(o *InstallOptions) { o.Interval, o.At = "weekly", "2:30" }); err != nil {
		t.Fatal(err)
	}
	want := otherJobs + "# BEGIN discord-scrape\n# managed by dcehost: change with 'dcehost cron install', delete with 'dcehost cron remove'\n" +
		e.jobLine("30 2 * * 0", "") + "\n# END discord-scrape\n# after\n"
	if got := string(e.runner.crontab); got != want {
		t.Errorf("crontab =\n%s\nwant\n%s", got, want)
	}
	if n := len(e.backups()); n != 2 {
		t.Errorf("%d backups, want 2 (same second: the second gets a suffix)", n)
	}
}

func TestInstallTakesOverOldBlock(t *testing.T) {
	e := newEnv(t)
	old := otherJobs + "# BEGIN discord-scrape\n0 2 1 * * cd /home/me/discord && flock -n /tmp/dce.lock ./run-scrape.sh >> logs/cron.log 2>&1\n# END discord-scrape\n@reboot /bin/true\n"
	e.runner.crontab, e.runner.hasCrontab = []byte(old), true
	if err := e.install(func(o *InstallOptions) { o.Targets = []string{"myserver", "dms"} }); err != nil {
		t.Fatal(err)
	}
	got := string(e.runner.crontab)
	if strings.Contains(got, "flock") || strings.Count(got, "# BEGIN discord-scrape") != 1 || !strings.HasSuffix(got, "# END discord-scrape\n@reboot /bin/true\n") {
		t.Errorf("old block not replaced in place:\n%s", got)
	}
	mustContain(t, "crontab", got, e.jobLine("0 4 1 * *", " --target myserver --target dms"))
	saved, err := os.ReadFile(e.backups()[0])
	if err != nil || string(saved) != old {
		t.Errorf("backup = %q, %v; want the old crontab", saved, err)
	}
	pf := e.runner.preflights()
	if len(pf) != 1 || !strings.HasSuffix(strings.Join(pf[0], " "), "--target myserver --target dms") {
		t.Errorf("preflight = %q", pf)
	}
}

func TestInstallDryRunTouchesNothing(t *testing.T) {
	e := newEnv(t)
	e.runner.crontab, e.runner.hasCrontab = []byte(otherJobs), true
	if err := e.install(func(o *InstallOptions) { o.DryRun = true; o.Schedule = "@weekly" }); err != nil {
		t.Fatal(err)
	}
	if e.runner.writes != 0 || len(e.runner.preflights()) != 0 || string(e.runner.crontab) != otherJobs {
		t.Errorf("dry run wrote %d times, ran %d preflights", e.runner.writes, len(e.runner.preflights()))
	}
	if _, err := os.Stat(e.home); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("dry run created %s (%v)", e.home, err)
	}
	if _, err := os.Stat(filepath.Join(e.dir, "discord", "logs")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("dry run created the logs directory (%v)", err)
	}
	mustContain(t, "output", e.out.String(),
		"--- crontab (now)", "+++ crontab (after install)",
		"+# BEGIN discord-scrape", "+@weekly DCE_DOCKER_BIN=", " 30 2 * * * /usr/local/bin/backup.sh",
		"every Sunday at 00:00", "Sun 2026-12-06 00:00 UTC", "Sun 2026-12-13 00:00 UTC", "Sun 2026-12-20 00:00 UTC",
		"dry run: the crontab was not changed")
}

func TestInstallFailingPreflightLeavesCrontab(t *testing.T) {
	e := newEnv(t)
	e.runner.crontab, e.runner.hasCrontab = []byte(otherJobs), true
	e.runner.preflightCode = 4
	err := e.install(nil)
	var silent *failure.SilentError
	if !errors.As(err, &silent) || silent.Code != 4 {
		t.Fatalf("err = %v, want the preflight's exit status 4 passed through", err)
	}
	if e.runner.writes != 0 || string(e.runner.crontab) != otherJobs || len(e.backups()) != 0 {
		t.Errorf("crontab changed (%d writes) or backed up after a failed preflight", e.runner.writes)
	}
	mustContain(t, "stderr", e.errOut.String(), "preflight failed (exit status 4)", "the crontab was not changed", "--skip-preflight")

	// --skip-preflight installs without running it.
	if err := e.install(func(o *InstallOptions) { o.SkipPreflight = true }); err != nil {
		t.Fatal(err)
	}
	if e.runner.writes != 1 || len(e.runner.preflights()) != 1 {
		t.Errorf("skip-preflight: %d writes, %d preflights", e.runner.writes, len(e.runner.preflights()))
	}
}

func TestInstallRefusesBadInput(t *testing.T) {
	tests := []struct {
		name string
		edit func(*env, *InstallOptions)
		say  string
	}{
		{"smuggled schedule", func(_ *env, o *InstallOptions) { o.Schedule = "0 2 * * *; touch /tmp/evil" }, "--schedule"},
		{"sixth field", func(_ *env, o *InstallOptions) { o.Schedule = "0 2 * * * touch" }, "6 fields"},
		{"@every", func(_ *env, o *InstallOptions) { o.Schedule = "@every 1h" }, "unknown macro"},
		{"schedule with interval", func(_ *env, o *InstallOptions) { o.Schedule, o.Interval = "@daily", "daily" }, "cannot be combined"},
		{"schedule with at", func(_ *env, o *InstallOptions) { o.Schedule, o.At = "@daily", "4:00" }, "cannot be combined"},
		{"bad interval", func(_ *env, o *InstallOptions) { o.Interval = "hourly" }, "--interval"},
		{"bad at", func(_ *env, o *InstallOptions) { o.At = "25:00" }, "--at"},
		{"bad job name", func(_ *env, o *InstallOptions) { o.JobName = "a b" }, "--job-name"},
		{"bad runner", func(_ *env, o *InstallOptions) { o.RunnerName = "ssh" }, "--runner"},
		{"unknown target", func(_ *env, o *InstallOptions) { o.Targets = []string{"nope"} }, "nope"},
		{"missing env file", func(e *env, o *InstallOptions) {
			f := e.factory()
			f.EnvFile = filepath.Join(e.dir, "missing.env")
			o.Settings = f.Settings
		}, "missing.env"},
		{"invalid config", func(e *env, o *InstallOptions) { e.write(e.config, `{"targets": []}`) }, e2config},
		{"missing config", func(e *env, o *InstallOptions) { o.Config = filepath.Join(e.dir, "nope.json") }, "nope.json"},
		{"percent in log file", func(e *env, o *InstallOptions) { o.LogFile = filepath.Join(e.dir, "100%.log") }, "cron turns '%' into a newline"},
		{"no compose", func(e *env, o *InstallOptions) {
			o.LookPath = func(string) (string, error) { return "", os.ErrNotExist }
		}, "compose"},
		{"no DCE CLI", func(e *env, o *InstallOptions) {
			o.RunnerName = "local"
			o.LookPath = func(string) (string, error) { return "", os.ErrNotExist }
		}, "DCE_CLI_BIN"},
		{"missing dcehost binary", func(e *env, o *InstallOptions) {
			o.Executable = func() (string, error) { return filepath.Join(e.dir, "gone", "dcehost"), nil }
		}, "gone"},
		{"dcehost binary not executable", func(e *env, o *InstallOptions) { e.write(e.exe, "x"); _ = os.Chmod(e.exe, 0o644) }, "not an executable"},
		{"damaged block", func(e *env, o *InstallOptions) {
			e.runner.crontab, e.runner.hasCrontab = []byte("# BEGIN discord-scrape\n0 1 * * * x\n"), true
		}, "damaged"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			var before string
			err := e.install(func(o *InstallOptions) { tt.edit(e, o); before = string(e.runner.crontab) })
			if !failure.IsUsage(err) {
				t.Fatalf("err = %v, want a usage error", err)
			}
			if !strings.Contains(err.Error(), tt.say) {
				t.Errorf("error %q does not say %q", err, tt.say)
			}
			if e.runner.writes != 0 || len(e.runner.preflights()) != 0 || string(e.runner.crontab) != before {
				t.Errorf("bad input changed something: %d writes, %d preflights", e.runner.writes, len(e.runner.preflights()))
			}
		})
	}
}

// e2config is what the targets loader says about an empty target list.
const e2config = "targets"

func TestInstallPinsToolsAndWarns(t *testing.T) {
	e := newEnv(t)
	e.environ = append(e.environ, "DCE_COMPOSE_FILE=/srv/compose.yml", "DISCORD_TOKEN="+secret)
	if err := e.install(func(o *InstallOptions) { o.RunnerName = "local"; o.SkipPreflight = true }); err != nil {
		t.Fatal(err)
	}
	mustContain(t, "crontab", string(e.runner.crontab),
		"0 4 1 * * DCE_CLI_BIN=/opt/dce/DiscordChatExporter.Cli "+e.exe+" scrape ", "/logs/scrape.log --runner local\n")
	mustContain(t, "stderr", e.errOut.String(), "warning: DCE_COMPOSE_FILE is set in your shell's environment only")
	if strings.Contains(e.errOut.String(), "DISCORD_TOKEN") {
		t.Errorf("warned about DISCORD_TOKEN, which the env file has too:\n%s", e.errOut)
	}
	if strings.Contains(e.errOut.String()+e.out.String()+string(e.runner.crontab), secret) {
		t.Error("the token leaked")
	}
}

func TestInstallResolvesSymlinkedBinary(t *testing.T) {
	e := newEnv(t)
	link := filepath.Join(e.dir, "link-dcehost")
	if err := os.Symlink(e.exe, link); err != nil {
		t.Fatal(err)
	}
	err := e.install(func(o *InstallOptions) {
		o.Executable = func() (string, error) { return link, nil }
	})
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(e.runner.crontab), link) || !strings.Contains(string(e.runner.crontab), " "+e.exe+" scrape ") {
		t.Errorf("job line does not run the resolved binary:\n%s", e.runner.crontab)
	}
}

func TestRemove(t *testing.T) {
	e := newEnv(t)
	e.runner.crontab, e.runner.hasCrontab = []byte(otherJobs), true
	if err := e.install(nil); err != nil {
		t.Fatal(err)
	}
	installed := string(e.runner.crontab)
	if err := e.remove(func(o *RemoveOptions) { o.DryRun = true }); err != nil {
		t.Fatal(err)
	}
	if string(e.runner.crontab) != installed || e.runner.writes != 1 {
		t.Fatal("remove --dry-run changed the crontab")
	}
	mustContain(t, "output", e.out.String(), "-# BEGIN discord-scrape", "-# END discord-scrape", "+++ crontab (after remove)", "dry run")
	if err := e.remove(nil); err != nil {
		t.Fatal(err)
	}
	if string(e.runner.crontab) != otherJobs {
		t.Errorf("after remove:\n%s\nwant\n%s", e.runner.crontab, otherJobs)
	}
	mustContain(t, "output", e.out.String(), `removed cron job "discord-scrape"`, "previous crontab saved to ")
	if err := e.remove(nil); err != nil {
		t.Fatal(err)
	}
	if e.runner.writes != 2 {
		t.Errorf("removing a missing block wrote the crontab")
	}
	mustContain(t, "output", e.out.String(), "nothing changed")

	e.runner.crontab = []byte("# END discord-scrape\n")
	if err := e.remove(nil); !failure.IsUsage(err) || !strings.Contains(err.Error(), "damaged") {
		t.Errorf("remove of a damaged block = %v", err)
	}
}

func TestShow(t *testing.T) {
	e := newEnv(t)
	err := e.show(nil)
	var none *NoJobError
	if !errors.As(err, &none) || failure.IsUsage(err) {
		t.Fatalf("show without a crontab = %v, want *NoJobError (exit 1)", err)
	}
	if err := e.install(func(o *InstallOptions) { o.Schedule = "0 4 * * 7" }); err != nil {
		t.Fatal(err)
	}
	e.runner.crontab = append([]byte(otherJobs), e.runner.crontab...)
	if err := e.show(nil); err != nil {
		t.Fatal(err)
	}
	mustContain(t, "output", e.out.String(),
		`cron job "discord-scrape" (crontab line 4):`, "  # BEGIN discord-scrape\n", "  "+e.jobLine("0 4 * * 7", "")+"\n",
		"schedule: 0 4 * * 7 (every Sunday at 04:00)", "Sun 2026-12-06 04:00 UTC", "Sun 2026-12-20 04:00 UTC")

	// An old installer's block is shown, and said to be one.
	e.runner.crontab = []byte("# BEGIN discord-scrape\n0 2 1 * * /old/run.sh\n# END discord-scrape\n")
	if err := e.show(nil); err != nil {
		t.Fatal(err)
	}
	mustContain(t, "output", e.out.String(), "not written by dcehost", "on day 1 of every month at 02:00")

	e.runner.crontab = []byte("# BEGIN discord-scrape\n# BEGIN discord-scrape\n")
	if err := e.show(nil); !failure.IsUsage(err) {
		t.Errorf("show of a damaged block = %v, want a usage error", err)
	}
	if err := e.show(func(o *ShowOptions) { o.JobName = "x;y" }); !failure.IsUsage(err) {
		t.Errorf("show --job-name x;y = %v, want a usage error", err)
	}
}

func TestFlags(t *testing.T) {
	e := newEnv(t)
	f := e.factory()
	var got *InstallOptions
	cmd := NewCmdInstall(f, func(o *InstallOptions) error { got = o; return nil })
	cmd.SetArgs([]string{"--interval", "weekly", "--at", "2:30", "--target", "a", "--target", "b", "--job-name", "j",
		"--log-file", "l.log", "--config", "c.json", "--skip-preflight", "--dry-run", "--runner", "local", "--backup-dir", "bk"})
	if err := cmd.Execute(); err != nil {
		t.Fatal(err)
	}
	if got.Interval != "weekly" || got.At != "2:30" || strings.Join(got.Targets, ",") != "a,b" || got.JobName != "j" ||
		got.LogFile != "l.log" || got.Config != "c.json" || !got.SkipPreflight || !got.DryRun || got.RunnerName != "local" || got.BackupDir != "bk" {
		t.Errorf("parsed %+v", got)
	}
	var rm *RemoveOptions
	cmd = NewCmdRemove(f, func(o *RemoveOptions) error { rm = o; return nil })
	cmd.SetArgs([]string{"--dry-run"})
	if err := cmd.Execute(); err != nil || !rm.DryRun || rm.JobName != "discord-scrape" {
		t.Errorf("remove flags: %+v, %v", rm, err)
	}
	var sh *ShowOptions
	cmd = NewCmdShow(f, func(o *ShowOptions) error { sh = o; return nil })
	cmd.SetArgs([]string{"--job-name", "x"})
	if err := cmd.Execute(); err != nil || sh.JobName != "x" {
		t.Errorf("show flags: %+v, %v", sh, err)
	}
	group := NewCmdCron(f)
	var names []string
	for _, c := range group.Commands() {
		names = append(names, c.Name())
	}
	if strings.Join(names, ",") != "install,remove,show" {
		t.Errorf("cron subcommands = %v", names)
	}
}

func TestInstallNeverOverwritesAnEditMadeMeanwhile(t *testing.T) {
	e := newEnv(t)
	e.runner.crontab, e.runner.hasCrontab = []byte(otherJobs), true
	edited := otherJobs + "0 9 * * * /usr/local/bin/added-during-preflight\n"
	e.runner.duringPreflight = func() { e.runner.crontab = []byte(edited) }
	err := e.install(nil)
	var meanwhile *ChangedMeanwhileError
	if !errors.As(err, &meanwhile) {
		t.Fatalf("err = %v, want *ChangedMeanwhileError", err)
	}
	if string(e.runner.crontab) != edited || e.runner.writes != 0 || len(e.backups()) != 0 {
		t.Errorf("the edit made during preflight was overwritten or backed up:\n%s", e.runner.crontab)
	}
}

func TestInstallRelativeLogFile(t *testing.T) {
	e := newEnv(t)
	if err := e.install(func(o *InstallOptions) { o.LogFile = "logs/cron.log" }); err != nil {
		t.Fatal(err)
	}
	mustContain(t, "crontab", string(e.runner.crontab), " --log-file "+filepath.Join(e.dir, "logs", "cron.log")+"\n")
}
