package engine

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"text/tabwriter"

	"github.com/dcehost/dcehost/internal/dce"
	"github.com/dcehost/dcehost/internal/failure"
)

// preflight checks the token, that every target resolves and that every
// channel can be read, without downloading history: each channel is
// exported with --after set to the current time, which gives an empty
// document. The exports go to a private temp directory (not under any
// output_dir) that is removed at the end; no archive, .dce-temp or
// .dce-meta is touched, and no summary file is written.
func (r *run) preflight(ctx context.Context) error {
	base := r.l.TempDir
	tmpRoot, err := os.MkdirTemp(base, "dcehost-preflight-")
	if err != nil {
		return fmt.Errorf("preflight: %w", err)
	}
	defer os.RemoveAll(tmpRoot)
	after := strconv.FormatUint(snowflakeAt(r.l.now()), 10)

	type row struct{ target, channel, status string }
	var rows []row
	var failed []string
	var jobs []job
	for _, t := range r.req.Targets {
		lay, warnings, err := scanLayout(t.OutputDir, r.otherOutputDirs(t))
		if err != nil {
			failed = append(failed, t.Name+": "+err.Error())
			rows = append(rows, row{t.Name, "-", "FAILED: " + err.Error()})
			continue
		}
		for _, w := range warnings {
			r.log.Warn(w, "target", t.Name)
		}
		tr := &targetRun{t: t, lay: lay, archives: map[string]string{}, salvaged: map[string]salvageResult{},
			blocked: map[string]bool{}, labels: map[string]string{}}
		chans, err := r.resolve(ctx, tr)
		if err != nil {
			if isFatal(err) || isUsage(err) {
				return resolveError(t, err)
			}
			msg := r.redact(resolveError(t, err).Error())
			failed = append(failed, msg)
			rows = append(rows, row{t.Name, "-", "FAILED: " + msg})
			continue
		}
		if len(chans) == 0 {
			rows = append(rows, row{t.Name, "-", "no channels"})
		}
		for _, c := range chans {
			jobs = append(jobs, job{tr: tr, ch: c})
		}
	}

	outs, fatal := r.runJobs(ctx, jobs, func(ctx context.Context, j job) outcome {
		out := filepath.Join(tmpRoot, j.tr.t.Name+"-"+j.ch.ID+".json")
		err := r.dce.Export(ctx, j.ch.ID, out, after)
		defer os.Remove(out)
		var skip *dce.SkipError
		switch {
		case ctx.Err() != nil:
			return outcome{fatal: context.Cause(ctx)}
		case isAuth(err):
			return outcome{fatal: err}
		case errors.As(err, &skip):
			return outcome{status: "SKIPPED (" + skip.Reason + ")"}
		case errors.Is(err, dce.ErrNoMessages):
			return outcome{status: "OK"}
		case err != nil:
			msg := r.redact(err.Error())
			return outcome{status: "FAILED: " + msg, failedMsg: msg}
		}
		h, err := readHeader(out)
		if err != nil {
			return outcome{status: "FAILED: " + err.Error(), failedMsg: err.Error()}
		}
		if h.ChannelID != j.ch.ID {
			msg := fmt.Sprintf("DCE exported channel %q, not %s", h.ChannelID, j.ch.ID)
			return outcome{status: "FAILED: " + msg, failedMsg: msg}
		}
		return outcome{status: "OK"}
	})
	if fatal != nil {
		return fatal
	}
	for i, o := range outs {
		rows = append(rows, row{jobs[i].tr.t.Name, jobs[i].ch.ID, o.status})
		if o.failedMsg != "" {
			failed = append(failed, jobs[i].tr.t.Name+"/"+jobs[i].ch.ID+": "+o.failedMsg)
		}
	}
	tw := tabwriter.NewWriter(r.io.Out, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "TARGET\tCHANNEL\tSTATUS")
	for _, rw := range rows {
		fmt.Fprintf(tw, "%s\t%s\t%s\n", rw.target, rw.channel, rw.status)
	}
	if err := tw.Flush(); err != nil {
		return fmt.Errorf("preflight: %w", err)
	}
	if len(failed) > 0 {
		return &ChannelsFailedError{Channels: failed}
	}
	return nil
}

func isUsage(err error) bool {
	var ue *failure.UsageError
	return errors.As(err, &ue)
}
