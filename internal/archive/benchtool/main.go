// Command benchtool measures the archive merge against cp and the old jq
// merge, and the cursor lookup, on generated archives in DCE's layout, and
// prints a table (make bench).
//
//	go run ./internal/archive/benchtool -bin bin/dcehost [-sizes 16M,200M,1G] [-dir DIR]
package main

import (
	"bufio"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/dcehost/dcehost/internal/archive"
	"github.com/dcehost/dcehost/internal/archive/archivetest"
)

const channelID = 200000000000000002

func main() {
	bin := flag.String("bin", "bin/dcehost", "the dcehost binary to measure")
	sizesFlag := flag.String("sizes", "16M,200M,1G", "archive sizes (K, M, G suffixes)")
	dirFlag := flag.String("dir", "", "directory for the generated files (default $TMPDIR)")
	appendN := flag.Int("append", 1000, "messages to append")
	jqFlag := flag.Bool("jq", true, "run the jq baseline where it fits in memory")
	flag.Parse()
	if err := run(*bin, *sizesFlag, *dirFlag, *appendN, *jqFlag); err != nil {
		fmt.Fprintln(os.Stderr, "benchtool:", err)
		os.Exit(1)
	}
}

type row struct {
	size         int64
	messages     int
	cp           time.Duration
	cpSync       time.Duration
	merge        time.Duration // index current
	mergeRSS     int64         // KB
	mergeCold    time.Duration // no index
	mergeColdRSS int64
	jq           time.Duration
	jqRSS        int64
	jqNote       string
	cursorScan   time.Duration
	cursorIndex  time.Duration
	noop         time.Duration
}

func parseSize(s string) (int64, error) {
	mult := int64(1)
	switch {
	case strings.HasSuffix(s, "K"):
		mult, s = 1<<10, strings.TrimSuffix(s, "K")
	case strings.HasSuffix(s, "M"):
		mult, s = 1<<20, strings.TrimSuffix(s, "M")
	case strings.HasSuffix(s, "G"):
		mult, s = 1<<30, strings.TrimSuffix(s, "G")
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n <= 0 {
		return 0, fmt.Errorf("bad size %q", s)
	}
	return n * mult, nil
}

func run(bin, sizesFlag, dirFlag string, appendN int, useJQ bool) error {
	binAbs, err := filepath.Abs(bin)
	if err != nil {
		return err
	}
	if _, err := os.Stat(binAbs); err != nil {
		return fmt.Errorf("dcehost binary: %w (run make build)", err)
	}
	var sizes []int64
	for _, s := range strings.Split(sizesFlag, ",") {
		n, err := parseSize(strings.TrimSpace(s))
		if err != nil {
			return err
		}
		sizes = append(sizes, n)
	}
	parent := dirFlag
	if parent == "" {
		parent = os.TempDir()
	}
	dir, err := os.MkdirTemp(parent, "dcehost-bench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	jqPath := ""
	if useJQ {
		if p, err := exec.LookPath("jq"); err == nil {
			jqPath = p
		} else {
			fmt.Fprintln(os.Stderr, "benchtool: jq not found; install it (apt-get install jq) for the baseline")
		}
	}

	var rows []row
	for _, size := range sizes {
		// archive + working copy + cp copy + merged temp + jq output.
		need := 5*size + 64<<20
		if free, err := freeBytes(dir); err != nil {
			return err
		} else if free < uint64(need) {
			return fmt.Errorf("%s has %d MB free, %d MB needed for %s archives (use -dir)", dir, free>>20, need>>20, human(size))
		}
		fmt.Fprintf(os.Stderr, "benchtool: %s archive...\n", human(size))
		r, err := measure(dir, binAbs, jqPath, size, appendN)
		if err != nil {
			return err
		}
		rows = append(rows, r)
	}
	printTable(rows, appendN)
	return nil
}

func measure(dir, bin, jqPath string, size int64, appendN int) (row, error) {
	r := row{size: size}
	src := filepath.Join(dir, fmt.Sprintf("Bench - general [%d].json", channelID))
	st, err := archivetest.WriteFile(src, archivetest.Options{Seed: 1, Size: size, ChannelID: channelID})
	if err != nil {
		return r, err
	}
	defer os.Remove(src)
	r.messages = st.Messages
	r.size = st.Bytes
	export := filepath.Join(dir, "export.json")
	if _, err := archivetest.WriteFile(export, archivetest.Options{Seed: 2, Messages: appendN, ChannelID: channelID, FirstID: archivetest.Next(st.MaxID)}); err != nil {
		return r, err
	}
	defer os.Remove(export)
	empty := filepath.Join(dir, "empty.json")
	if _, err := archivetest.WriteFile(empty, archivetest.Options{Seed: 3, ChannelID: channelID}); err != nil {
		return r, err
	}
	defer os.Remove(empty)

	// Each timing is the median of 3 runs, each after a sync so that
	// write-back of earlier steps does not land in it.
	const runs = 3
	cpOut := filepath.Join(dir, "cp.json")
	r.cp, _, err = median(runs, func() (time.Duration, int64, error) {
		defer os.Remove(cpOut)
		return timed("cp", src, cpOut)
	})
	if err != nil {
		return r, err
	}
	r.cpSync, _, err = median(runs, func() (time.Duration, int64, error) {
		defer os.Remove(cpOut)
		d, _, err := timed("cp", src, cpOut)
		if err != nil {
			return 0, 0, err
		}
		t0 := time.Now()
		if err := fsyncFile(cpOut); err != nil {
			return 0, 0, err
		}
		return d + time.Since(t0), 0, nil
	})
	if err != nil {
		return r, err
	}

	work := filepath.Join(dir, fmt.Sprintf("Work - general [%d].json", channelID))
	defer os.Remove(work)
	meta := filepath.Join(dir, ".dce-meta")
	defer os.RemoveAll(meta)
	check := func() error {
		if rep, err := archive.Verify(work); err != nil || !rep.OK() || rep.Messages != st.Messages+appendN {
			return fmt.Errorf("merged archive does not verify: %+v %v", rep, err)
		}
		return nil
	}
	// Cold: no index, the merge parses the whole archive once.
	r.mergeCold, r.mergeColdRSS, err = median(runs, func() (time.Duration, int64, error) {
		if err := freshCopy(src, work); err != nil {
			return 0, 0, err
		}
		d, rss, err := timed(bin, "archive", "merge", "--json", work, export)
		if err == nil {
			err = check()
		}
		return d, rss, err
	})
	if err != nil {
		return r, err
	}
	// The scrape's case: the cursor was just taken (its first call scans
	// and writes the index), then the merge finds the index current.
	var c1 uint64
	r.merge, r.mergeRSS, err = median(runs, func() (time.Duration, int64, error) {
		if err := freshCopy(src, work); err != nil {
			return 0, 0, err
		}
		os.RemoveAll(meta)
		t0 := time.Now()
		if _, err := archive.Cursor(work, meta); err != nil {
			return 0, 0, err
		}
		r.cursorScan = time.Since(t0)
		d, rss, err := timed(bin, "archive", "merge", "--json", "--meta-dir", meta, work, export)
		if err == nil {
			err = check()
		}
		return d, rss, err
	})
	if err != nil {
		return r, err
	}
	if c1, err = archive.Cursor(work, meta); err != nil {
		return r, err
	}
	const reps = 20
	t0 := time.Now()
	for range reps {
		c2, err := archive.Cursor(work, meta)
		if err != nil || c2 != c1 {
			return r, fmt.Errorf("indexed cursor %d (%v), scanned %d", c2, err, c1)
		}
	}
	r.cursorIndex = time.Since(t0) / reps
	// A no-op channel: an empty export merged with the index current.
	t0 = time.Now()
	for range reps {
		res, err := archive.Merge(work, empty, archive.MergeOptions{MetaDir: meta})
		if err != nil || res.Action != archive.Unchanged {
			return r, fmt.Errorf("no-op merge: %+v %v", res, err)
		}
	}
	r.noop = time.Since(t0) / reps

	// The old jq merge: whole files in memory, dedupe by id, sort.
	switch {
	case jqPath == "":
		r.jqNote = "no jq"
	default:
		avail, err := memAvailable()
		if err != nil {
			return r, err
		}
		// jq holds about 10-12x the file size; leave half the memory to others.
		if need := 12 * size; need > avail/2 {
			r.jqNote = fmt.Sprintf("skipped (needs ~%s RAM)", human(need))
			break
		}
		jqOut := filepath.Join(dir, "jq.json")
		prog := `.[0] as $a | .[1] as $e | $a | .messages = (($a.messages + $e.messages) | unique_by(.id) | sort_by(.id | tonumber)) | .messageCount = (.messages | length)`
		r.jq, r.jqRSS, err = timedOut(jqOut, jqPath, "-s", prog, src, export)
		os.Remove(jqOut)
		if err != nil {
			return r, err
		}
	}
	return r, nil
}

// median runs f n times, after a sync each, and returns the run with the
// median time.
func median(n int, f func() (time.Duration, int64, error)) (time.Duration, int64, error) {
	type res struct {
		d   time.Duration
		rss int64
	}
	var all []res
	for range n {
		if err := exec.Command("sync").Run(); err != nil {
			return 0, 0, fmt.Errorf("sync: %w", err)
		}
		d, rss, err := f()
		if err != nil {
			return 0, 0, err
		}
		all = append(all, res{d, rss})
	}
	sort.Slice(all, func(i, j int) bool { return all[i].d < all[j].d })
	m := all[len(all)/2]
	maxRSS := int64(0)
	for _, a := range all {
		maxRSS = max(maxRSS, a.rss)
	}
	return m.d, maxRSS, nil
}

// freshCopy copies src to dst (untimed setup) and syncs it.
func freshCopy(src, dst string) error {
	if _, _, err := timed("cp", src, dst); err != nil {
		return err
	}
	if err := fsyncFile(dst); err != nil {
		return err
	}
	return exec.Command("sync").Run()
}

func fsyncFile(path string) error {
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		return err
	}
	defer f.Close()
	return f.Sync()
}

// timed runs a command and returns its wall time and peak RSS (KB).
func timed(name string, args ...string) (time.Duration, int64, error) {
	return timedOut("", name, args...)
}

func timedOut(stdout, name string, args ...string) (time.Duration, int64, error) {
	cmd := exec.Command(name, args...)
	cmd.Stderr = os.Stderr
	if stdout != "" {
		f, err := os.Create(stdout)
		if err != nil {
			return 0, 0, err
		}
		defer f.Close()
		cmd.Stdout = f
	}
	t0 := time.Now()
	err := cmd.Run()
	d := time.Since(t0)
	if err != nil {
		return 0, 0, fmt.Errorf("%s %s: %w", name, strings.Join(args, " "), err)
	}
	var rss int64
	if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
		rss = ru.Maxrss
	}
	return d, rss, nil
}

func freeBytes(dir string) (uint64, error) {
	var fs syscall.Statfs_t
	if err := syscall.Statfs(dir, &fs); err != nil {
		return 0, fmt.Errorf("free space of %s: %w", dir, err)
	}
	return fs.Bavail * uint64(fs.Bsize), nil
}

func memAvailable() (int64, error) {
	f, err := os.Open("/proc/meminfo")
	if err != nil {
		return 0, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) >= 2 && fields[0] == "MemAvailable:" {
			kb, err := strconv.ParseInt(fields[1], 10, 64)
			return kb << 10, err
		}
	}
	return 0, errors.New("no MemAvailable in /proc/meminfo")
}

func human(n int64) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.1f GB", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.0f MB", float64(n)/(1<<20))
	default:
		return fmt.Sprintf("%d KB", n>>10)
	}
}

func ms(d time.Duration) string {
	if d < 10*time.Millisecond {
		return fmt.Sprintf("%.2f ms", float64(d)/float64(time.Millisecond))
	}
	if d < 10*time.Second {
		return fmt.Sprintf("%.0f ms", float64(d)/float64(time.Millisecond))
	}
	return fmt.Sprintf("%.1f s", d.Seconds())
}

func printTable(rows []row, appendN int) {
	fmt.Printf("\nAppend %d messages to a generated archive (DCE layout) with bin/dcehost archive merge, page cache warm.\n", appendN)
	fmt.Println("dcehost merge: the archive index is current (as in a scrape, where the cursor was just taken); cold merge: no index, the archive is parsed once.")
	fmt.Println("Merge times include fsync of the file and the directory; cp's do not (cp+fsync does). Times: median of 3 runs, each after sync.")
	fmt.Println()
	tw := tabwriter.NewWriter(os.Stdout, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "archive\tmessages\tcp\tcp+fsync\tdcehost merge\tmerge/cp\tpeak RSS\tcold merge\tcold/cp\tcold RSS\tjq merge\tjq/dcehost\tjq RSS\tcursor (scan)\tcursor (index)\tno-op merge\t")
	for _, r := range rows {
		jq, ratio, jqRSS := r.jqNote, "-", "-"
		if r.jqNote == "" {
			jq = ms(r.jq)
			ratio = fmt.Sprintf("%.0fx", float64(r.jq)/float64(r.merge))
			jqRSS = fmt.Sprintf("%d MB", r.jqRSS>>10)
		}
		fmt.Fprintf(tw, "%s\t%d\t%s\t%s\t%s\t%.2fx\t%d MB\t%s\t%.2fx\t%d MB\t%s\t%s\t%s\t%s\t%s\t%s\t\n",
			human(r.size), r.messages, ms(r.cp), ms(r.cpSync), ms(r.merge), float64(r.merge)/float64(r.cp), r.mergeRSS>>10,
			ms(r.mergeCold), float64(r.mergeCold)/float64(r.cp), r.mergeColdRSS>>10,
			jq, ratio, jqRSS, ms(r.cursorScan), ms(r.cursorIndex), ms(r.noop))
	}
	tw.Flush()
	fmt.Println("\nTargets: merge <= 3x cp; >= 50x faster than jq at 200 MB; peak RSS <= 64 MB; cursor on an unchanged archive <= 10 ms at 1 GB; no-op channel <= 10 ms.")
	for _, r := range rows {
		var fails []string
		if float64(r.merge) > 3*float64(r.cp) {
			fails = append(fails, "merge > 3x cp")
		}
		if r.mergeRSS > 64<<10 || r.mergeColdRSS > 64<<10 {
			fails = append(fails, "RSS > 64 MB")
		}
		if r.cursorIndex > 10*time.Millisecond {
			fails = append(fails, "cursor > 10 ms")
		}
		if r.noop > 10*time.Millisecond {
			fails = append(fails, "no-op > 10 ms")
		}
		if r.jqNote == "" && r.size >= 150<<20 && r.size < 300<<20 && float64(r.jq) < 50*float64(r.merge) {
			fails = append(fails, "< 50x faster than jq")
		}
		status := "meets the targets"
		if len(fails) > 0 {
			status = "MISSES: " + strings.Join(fails, ", ")
		}
		fmt.Printf("  %s: %s\n", human(r.size), status)
	}
}
