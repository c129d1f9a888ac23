package cron

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"os"
	"os/exec"
	"strings"
	"testing"

	dcron "github.com/dcehost/dcehost/internal/cron"
	"github.com/dcehost/dcehost/internal/failure"
)

// realCrontab sets e up to drive Debian's real crontab on a throwaway
// user created for this test (crontab -u USER), never on the machine's own
// users' crontabs. It skips when that is not possible.
type realCrontab struct {
	t    *testing.T
	bin  string
	user string
}

func newRealCrontab(t *testing.T, e *env) *realCrontab {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("integration test with the real crontab: needs root to create a throwaway user (run as root, e.g. in .ci/run)")
	}
	bin, err := exec.LookPath("crontab")
	if err != nil {
		t.Skip("integration test with the real crontab: crontab is not installed (apt-get install cron)")
	}
	useradd, err := exec.LookPath("useradd")
	if err != nil {
		t.Skip("integration test with the real crontab: useradd is not installed")
	}
	suffix := make([]byte, 4)
	if _, err := rand.Read(suffix); err != nil {
		t.Fatal(err)
	}
	user := "dcehost-it-" + hex.EncodeToString(suffix)
	if out, err := exec.Command(useradd, "-M", "-N", "-s", "/usr/sbin/nologin", user).CombinedOutput(); err != nil {
		t.Fatalf("useradd %s: %v: %s", user, err, out)
	}
	t.Cleanup(func() {
		// Remove the user's crontab, then the user.
		_ = exec.Command(bin, "-u", user, "-r").Run()
		if out, err := exec.Command("userdel", user).CombinedOutput(); err != nil {
			t.Errorf("userdel %s: %v: %s", user, err, out)
		}
	})
	rc := &realCrontab{t: t, bin: bin, user: user}
	e.runner.real = dcron.ExecRunner{}
	e.environ = append(e.environ, dcron.CrontabBinVar+"="+bin)
	return rc
}

// opts points a command's crontab calls at the throwaway user.
func (rc *realCrontab) opts(c *Common) {
	c.CrontabArgs = []string{"-u", rc.user}
}

func (rc *realCrontab) list() string {
	rc.t.Helper()
	var out, errOut bytes.Buffer
	cmd := exec.Command(rc.bin, "-u", rc.user, "-l")
	cmd.Stdout, cmd.Stderr = &out, &errOut
	if err := cmd.Run(); err != nil {
		if strings.Contains(errOut.String(), "no crontab for") {
			return ""
		}
		rc.t.Fatalf("crontab -l: %v: %s", err, errOut.String())
	}
	return out.String()
}

func (rc *realCrontab) set(content string) {
	rc.t.Helper()
	cmd := exec.Command(rc.bin, "-u", rc.user, "-")
	cmd.Stdin = strings.NewReader(content)
	if out, err := cmd.CombinedOutput(); err != nil {
		rc.t.Fatalf("crontab -: %v: %s", err, out)
	}
}

func (rc *realCrontab) hash() string {
	sum := sha256.Sum256([]byte(rc.list()))
	return hex.EncodeToString(sum[:])
}

func crontabWrites(r *fakeRunner) int {
	n := 0
	for _, c := range r.calls {
		if c[len(c)-1] == "-" {
			n++
		}
	}
	return n
}

const realOtherJobs = `# m h  dom mon dow   command
MAILTO=ops@example.org
SHELL=/bin/sh

# nightly backups
30 2 * * * /usr/local/bin/backup.sh >> /var/log/backup.log 2>&1
*/15 * * * * /usr/sbin/sendmail -q
@daily /usr/sbin/logrotate /home/me/.logrotate.conf
`

func TestRealCrontab(t *testing.T) {
	e := newEnv(t)
	rc := newRealCrontab(t, e)
	install := func(edit func(*InstallOptions)) error {
		return e.install(func(o *InstallOptions) {
			rc.opts(&o.Common)
			if edit != nil {
				edit(o)
			}
		})
	}
	block := func(expr string) string {
		return "# BEGIN discord-scrape\n" + dcron.ManagedComment + "\n" + e.jobLine(expr, "") + "\n# END discord-scrape\n"
	}

	// A user without a crontab: install creates it.
	if err := install(nil); err != nil {
		t.Fatalf("install: %v\n%s", err, e.errOut)
	}
	if got, want := rc.list(), block("0 4 1 * *"); got != want {
		t.Fatalf("crontab after install:\n%s\nwant\n%s", got, want)
	}
	if err := e.remove(func(o *RemoveOptions) { rc.opts(&o.Common) }); err != nil {
		t.Fatal(err)
	}
	if got := rc.list(); got != "" {
		t.Fatalf("crontab after removing the only block = %q, want empty", got)
	}

	// Other jobs: install appends, every other line kept.
	rc.set(realOtherJobs)
	if err := install(nil); err != nil {
		t.Fatal(err)
	}
	if got, want := rc.list(), realOtherJobs+block("0 4 1 * *"); got != want {
		t.Fatalf("crontab after install:\n%s\nwant\n%s", got, want)
	}

	// Reinstall: nothing written.
	hash, writes := rc.hash(), crontabWrites(e.runner)
	if err := install(nil); err != nil {
		t.Fatal(err)
	}
	if rc.hash() != hash || crontabWrites(e.runner) != writes {
		t.Fatal("reinstall of the same block changed the crontab")
	}
	mustContain(t, "output", e.out.String(), "already installed")

	// A later line, then a schedule change: replaced in place.
	rc.set(rc.list() + "0 5 * * * /bin/true\n")
	if err := install(func(o *InstallOptions) { o.Interval, o.At = "daily", "3:15" }); err != nil {
		t.Fatal(err)
	}
	if got, want := rc.list(), realOtherJobs+block("15 3 * * *")+"0 5 * * * /bin/true\n"; got != want {
		t.Fatalf("crontab after a schedule change:\n%s\nwant\n%s", got, want)
	}

	// --dry-run writes nothing.
	hash, writes = rc.hash(), crontabWrites(e.runner)
	if err := install(func(o *InstallOptions) { o.Schedule = "@weekly"; o.DryRun = true }); err != nil {
		t.Fatal(err)
	}
	if err := e.remove(func(o *RemoveOptions) { rc.opts(&o.Common); o.DryRun = true }); err != nil {
		t.Fatal(err)
	}
	if rc.hash() != hash || crontabWrites(e.runner) != writes {
		t.Fatal("--dry-run changed the crontab")
	}

	// A failing preflight leaves the crontab byte-identical.
	e.runner.preflightCode = 4
	err := install(func(o *InstallOptions) { o.Schedule = "0 1 * * 1-5" })
	var silent *failure.SilentError
	if !errors.As(err, &silent) || silent.Code != 4 {
		t.Fatalf("install with a failing preflight = %v, want exit status 4", err)
	}
	if rc.hash() != hash || crontabWrites(e.runner) != writes {
		t.Fatal("a failing preflight changed the crontab")
	}
	e.runner.preflightCode = 0

	// show reads the real crontab.
	if err := e.show(func(o *ShowOptions) { rc.opts(&o.Common) }); err != nil {
		t.Fatal(err)
	}
	mustContain(t, "output", e.out.String(), "schedule: 15 3 * * * (every day at 03:15)", "Fri 2026-12-04 03:15 UTC")

	// remove: exactly the other lines are left.
	if err := e.remove(func(o *RemoveOptions) { rc.opts(&o.Common) }); err != nil {
		t.Fatal(err)
	}
	if got, want := rc.list(), realOtherJobs+"0 5 * * * /bin/true\n"; got != want {
		t.Fatalf("crontab after remove:\n%s\nwant\n%s", got, want)
	}
	err = e.show(func(o *ShowOptions) { rc.opts(&o.Common) })
	var none *NoJobError
	if !errors.As(err, &none) {
		t.Fatalf("show after remove = %v, want *NoJobError", err)
	}

	// Every crontab call went to the throwaway user.
	for _, c := range e.runner.calls {
		if c[0] == e.exe {
			continue
		}
		if c[0] != rc.bin || len(c) != 4 || c[1] != "-u" || c[2] != rc.user {
			t.Errorf("crontab call %q is not for the throwaway user", c)
		}
	}
}

// The real crontab refuses what dcehost would refuse too: a schedule
// accepted by ParseSchedule is accepted by Debian's crontab.
func TestRealCrontabAcceptsParsedSchedules(t *testing.T) {
	e := newEnv(t)
	rc := newRealCrontab(t, e)
	for _, expr := range []string{
		"0 4 1 * *", "*/15 * * * *", "0 2 * * 0-7", "0 2 * * mon-fri", "0 2 1 jan-jun/2 *", "5,35 1-23/2 1,15 * *",
		"0 2 * * SUN,Sat", "@monthly", "@reboot", "@annually", "@midnight", "0 0 29 2 *",
	} {
		s, err := dcron.ParseSchedule(expr)
		if err != nil {
			t.Fatal(err)
		}
		rc.set(dcron.RenderBlock("x", s, "/bin/true"))
	}
	for _, expr := range []string{"5/2 * * * *", "0 2 * * ?", "@every 5m", "0 2 * * 8", "0 24 * * *"} {
		if _, err := dcron.ParseSchedule(expr); err == nil {
			t.Errorf("ParseSchedule(%q) accepted", expr)
		}
		cmd := exec.Command(rc.bin, "-u", rc.user, "-")
		cmd.Stdin = strings.NewReader(expr + " /bin/true\n")
		if err := cmd.Run(); err == nil {
			t.Errorf("crontab accepted %q, which ParseSchedule refuses", expr)
		}
	}
}
