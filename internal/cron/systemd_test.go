package cron

import (
	"bufio"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"
)

func TestOnCalendar(t *testing.T) {
	tests := []struct {
		expr string
		want []string
	}{
		{"0 4 1 * *", []string{"*-*-01 04:00:00"}},
		{"0 4 * * 0", []string{"Sun *-*-* 04:00:00"}},
		{"0 4 * * 7", []string{"Sun *-*-* 04:00:00"}},
		{"30 2 * * *", []string{"*-*-* 02:30:00"}},
		{"*/15 * * * *", []string{"*-*-* *:00,15,30,45:00"}},
		{"0 4 1,15 jan,jul *", []string{"*-01,07-01,15 04:00:00"}},
		{"0 4 * * mon-fri", []string{"Mon,Tue,Wed,Thu,Fri *-*-* 04:00:00"}},
		{"0 4 * * 0-7", []string{"*-*-* 04:00:00"}},
		// Either day field may match: two values.
		{"0 0 13 * 5", []string{"*-*-13 00:00:00", "Fri *-*-* 00:00:00"}},
		// Day-of-month begins with *: both must match.
		{"0 0 */2 * 1", []string{"Mon *-*-01,03,05,07,09,11,13,15,17,19,21,23,25,27,29,31 00:00:00"}},
		{"@monthly", []string{"*-*-01 00:00:00"}},
		{"@hourly", []string{"*-*-* *:00:00"}},
		{"@yearly", []string{"*-01-01 00:00:00"}},
	}
	for _, tt := range tests {
		s, err := ParseSchedule(tt.expr)
		if err != nil {
			t.Fatal(err)
		}
		got, err := s.OnCalendar()
		if err != nil {
			t.Errorf("%s: %v", tt.expr, err)
			continue
		}
		if strings.Join(got, " | ") != strings.Join(tt.want, " | ") {
			t.Errorf("%s: OnCalendar = %q, want %q", tt.expr, got, tt.want)
		}
	}
	s, _ := ParseSchedule("@reboot")
	var se *SystemdError
	if _, err := s.OnCalendar(); !errors.As(err, &se) {
		t.Errorf("@reboot OnCalendar err = %v, want *SystemdError", err)
	}
}

// With systemd-analyze installed, systemd itself computes the next runs of
// each OnCalendar value; they must be the cron schedule's next runs.
func TestOnCalendarMatchesSystemd(t *testing.T) {
	bin, err := exec.LookPath("systemd-analyze")
	if err != nil {
		t.Skip("systemd-analyze is not installed")
	}
	base := time.Date(2026, 12, 3, 18, 41, 30, 0, time.UTC)
	for _, expr := range []string{
		"0 4 1 * *", "0 4 * * 0", "*/20 3 * * *", "0 0 13 * 5", "0 0 */2 * 1", "5 1 29 2 *", "0 12 1-7 * mon",
		"0 4 1,15 jan,jul *", "@weekly", "30 23 31 * *",
	} {
		s, err := ParseSchedule(expr)
		if err != nil {
			t.Fatal(err)
		}
		cal, err := s.OnCalendar()
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, c := range cal {
			cmd := exec.Command(bin, "calendar", "--iterations=5", "--base-time=2026-12-03 18:41:30 UTC", c)
			cmd.Env = append(os.Environ(), "TZ=UTC")
			out, err := cmd.CombinedOutput()
			if err != nil {
				t.Fatalf("%s: systemd-analyze calendar %q: %v\n%s", expr, c, err, out)
			}
			sc := bufio.NewScanner(strings.NewReader(string(out)))
			for sc.Scan() {
				line := strings.TrimSpace(sc.Text())
				if _, v, ok := strings.Cut(line, "Next elapse: "); ok {
					got = append(got, v)
				} else if strings.HasPrefix(line, "Iter. #") {
					_, v, _ := strings.Cut(line, ": ")
					got = append(got, v)
				}
			}
		}
		sort.Slice(got, func(i, j int) bool {
			a, _ := time.Parse("Mon 2006-01-02 15:04:05 MST", got[i])
			b, _ := time.Parse("Mon 2006-01-02 15:04:05 MST", got[j])
			return a.Before(b)
		})
		var want []string
		for _, n := range s.Next(base, 3) {
			want = append(want, n.Format("Mon 2006-01-02 15:04:05 MST"))
		}
		if len(got) < 3 || strings.Join(got[:3], ",") != strings.Join(want, ",") {
			t.Errorf("%s (OnCalendar %q): systemd says %v, cron schedule says %v", expr, cal, got, want)
		}
	}
}

func TestRenderUnits(t *testing.T) {
	dir := t.TempDir()
	exe := filepath.Join(dir, "my bin", "dcehost")
	if err := os.MkdirAll(filepath.Dir(exe), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(exe, []byte("#!/bin/true\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	s, err := ParseSchedule("0 0 13 * 5")
	if err != nil {
		t.Fatal(err)
	}
	job := Job{
		Binary: exe, EnvFile: "/home/me/discord/scrape.env", Config: "/home/me/discord/config/scrape-targets.json",
		LogFile: "/home/me/discord/logs/$USER.log", Targets: []string{`it's "dms"`},
		Env: []EnvVar{{Name: "DCE_DOCKER_BIN", Value: "/usr/local/bin/docker"}},
	}
	u, err := RenderUnits("discord-scrape", s, job)
	if err != nil {
		t.Fatal(err)
	}
	wantService := UnitMarker + `
[Unit]
Description=dcehost scrape (discord-scrape)

[Service]
Type=oneshot
Environment=DCE_DOCKER_BIN=/usr/local/bin/docker
ExecStart="` + exe + `" scrape --env-file /home/me/discord/scrape.env --config /home/me/discord/config/scrape-targets.json --log-file "/home/me/discord/logs/$$USER.log" --target "it's \"dms\""
`
	if u.Service != wantService {
		t.Errorf("service =\n%s\nwant\n%s", u.Service, wantService)
	}
	wantTimer := UnitMarker + `
# schedule: 0 0 13 * 5
[Unit]
Description=dcehost scrape (discord-scrape): on day 13 of the month or on Friday at 00:00

[Timer]
OnCalendar=*-*-13 00:00:00
OnCalendar=Fri *-*-* 00:00:00
Persistent=true
Unit=discord-scrape.service

[Install]
WantedBy=timers.target
`
	if u.Timer != wantTimer {
		t.Errorf("timer =\n%s\nwant\n%s", u.Timer, wantTimer)
	}
	back, err := TimerSchedule(u.Timer)
	if err != nil || back == nil || back.Expr != s.Expr {
		t.Errorf("TimerSchedule = %v, %v", back, err)
	}
	if none, err := TimerSchedule("[Timer]\nOnCalendar=daily\n"); none != nil || err != nil {
		t.Errorf("TimerSchedule of a foreign timer = %v, %v", none, err)
	}

	// systemd itself reads the files as intended.
	bin, err := exec.LookPath("systemd-analyze")
	if err != nil {
		return
	}
	unitDir := t.TempDir()
	for name, text := range map[string]string{"discord-scrape.service": u.Service, "discord-scrape.timer": u.Timer} {
		if err := os.WriteFile(filepath.Join(unitDir, name), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	out, err := exec.Command(bin, "verify", filepath.Join(unitDir, "discord-scrape.service"), filepath.Join(unitDir, "discord-scrape.timer")).CombinedOutput()
	if err != nil {
		t.Errorf("systemd-analyze verify: %v\n%s", err, out)
	}
}

func TestInstalledTimer(t *testing.T) {
	home := t.TempDir()
	getenv := func(k string) string {
		if k == "HOME" {
			return home
		}
		return ""
	}
	dir := filepath.Join(home, ".config", "systemd", "user")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if job, err := InstalledTimer(getenv, "discord-scrape"); job != nil || err != nil {
		t.Fatalf("no units: %+v, %v", job, err)
	}
	// A timer dcehost did not write is not ours.
	foreign := filepath.Join(dir, "discord-scrape.timer")
	if err := os.WriteFile(foreign, []byte("[Timer]\nOnCalendar=daily\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if job, err := InstalledTimer(getenv, "discord-scrape"); job != nil || err != nil {
		t.Fatalf("foreign timer: %+v, %v", job, err)
	}
	sched, err := ParseSchedule("0 4 1 * *")
	if err != nil {
		t.Fatal(err)
	}
	u, err := RenderUnits("discord-scrape", sched, Job{Binary: "/usr/local/bin/dcehost", EnvFile: "/srv/d/scrape.env", Config: "/srv/d/c.json", LogFile: "/srv/d/s.log"})
	if err != nil {
		t.Fatal(err)
	}
	for name, text := range map[string]string{"discord-scrape.service": u.Service, "discord-scrape.timer": u.Timer} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	job, err := InstalledTimer(getenv, "discord-scrape")
	if err != nil || job == nil {
		t.Fatalf("installed units: %+v, %v", job, err)
	}
	if job.Schedule == nil || job.Schedule.Expr != "0 4 1 * *" || !strings.Contains(job.ExecStart, "/usr/local/bin/dcehost scrape") {
		t.Fatalf("job = %+v (schedule %+v)", job, job.Schedule)
	}
}
