package engine

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"sync"

	"github.com/dcehost/dcehost/internal/archive"
	"github.com/dcehost/dcehost/internal/dce"
	"github.com/dcehost/dcehost/internal/summary"
)

// job is one channel of one target.
type job struct {
	tr *targetRun
	ch chanRef
}

// outcome is a job's result: an entry, a failure, or an error that ends
// the run (fatal). salvage is set when a salvage merge of this channel is
// not folded into entry and must be reported on its own.
type outcome struct {
	entry   *summary.Channel
	fail    *summary.Failure
	salvage *summary.Channel
	fatal   error
	// killed is set when the export was killed (the entry is SKIPPED or
	// SKIPPED_OOM; the run still ends with exit 7).
	killed string
	// preflight
	status, failedMsg string
}

func (r *run) salvageOnly(ctx context.Context) error {
	sum := summary.New()
	var trs []*targetRun
	for _, t := range r.req.Targets {
		if _, err := os.Stat(t.OutputDir); errors.Is(err, fs.ErrNotExist) {
			r.log.Info("nothing to salvage: output_dir does not exist", "target", t.Name, "output_dir", t.OutputDir)
			continue
		}
		tr, err := r.openTarget(t)
		if err != nil {
			sum.Fail(summary.Failure{Target: t.Name, Error: err.Error()})
			continue
		}
		trs = append(trs, tr)
		r.cleanStaleTemps(tr)
		if err := r.salvageTarget(ctx, tr, sum); err != nil {
			if ctx.Err() != nil {
				return err
			}
			sum.Fail(summary.Failure{Target: t.Name, Error: err.Error()})
			continue
		}
		for _, id := range sortedKeys(tr.salvaged) {
			sum.Add(salvageEntry(tr, id, tr.salvaged[id]))
		}
	}
	return r.finish(trs, sum)
}

func (r *run) scrape(ctx context.Context) error {
	sum := summary.New()
	var trs []*targetRun
	var jobs []job

	// Phase 1: resolve every target (listings only). A rejected token or a
	// configuration error ends the run here, before anything is written.
	type plan struct {
		tr    *targetRun
		chans []chanRef
	}
	var plans []plan
	for _, t := range r.req.Targets {
		tr, err := r.openTarget(t)
		if err != nil {
			sum.Fail(summary.Failure{Target: t.Name, Error: err.Error()})
			continue
		}
		chans, err := r.resolve(ctx, tr)
		if err != nil {
			if isFatal(err) || isUsage(err) {
				return resolveError(t, err)
			}
			sum.Fail(summary.Failure{Target: t.Name, Error: r.redact(resolveError(t, err).Error())})
			chans = nil
		}
		r.log.Info("target resolved", "target", t.Name, "channels", len(chans))
		plans = append(plans, plan{tr, chans})
	}

	// Phase 2: per target, merge what a dead run left (before any cursor
	// is computed), then queue the exports.
	for _, p := range plans {
		tr := p.tr
		if err := r.createOutputDir(tr); err != nil {
			sum.Fail(summary.Failure{Target: tr.t.Name, Error: err.Error()})
			continue
		}
		trs = append(trs, tr)
		r.cleanStaleTemps(tr)
		if err := r.salvageTarget(ctx, tr, sum); err != nil {
			if ctx.Err() != nil {
				r.writeMaps(trs)
				return err
			}
			sum.Fail(summary.Failure{Target: tr.t.Name, Error: err.Error()})
			continue
		}
		inRun := map[string]bool{}
		for _, c := range p.chans {
			inRun[c.ID] = true
			if tr.blocked[c.ID] {
				continue
			}
			jobs = append(jobs, job{tr: tr, ch: c})
		}
		for _, id := range sortedKeys(tr.salvaged) {
			if !inRun[id] || tr.blocked[id] {
				sum.Add(salvageEntry(tr, id, tr.salvaged[id]))
			}
		}
	}

	r.progress.AddTotal(len(jobs))
	outs, fatal := r.runJobs(ctx, jobs, func(ctx context.Context, j job) outcome {
		label := j.tr.t.Name + "/" + j.ch.ID
		r.progress.Start(label)
		o := r.scrapeChannel(ctx, j)
		appended := 0
		if o.entry != nil {
			appended = o.entry.Delta
		}
		if o.salvage != nil {
			appended += o.salvage.Delta
		}
		r.progress.Done(label, appended)
		return o
	})
	if fatal != nil {
		r.progress.End()
		r.writeMaps(trs)
		return fatal
	}
	for _, o := range outs {
		if o.salvage != nil {
			sum.Add(*o.salvage)
		}
		if o.entry != nil {
			sum.Add(*o.entry)
		}
		if o.fail != nil {
			sum.Fail(*o.fail)
		}
		if o.killed != "" {
			r.killed = append(r.killed, o.killed)
		}
	}
	return r.finish(trs, sum)
}

// writeMaps keeps channel maps up to date when a run ends early.
func (r *run) writeMaps(trs []*targetRun) {
	for _, tr := range trs {
		if tr.lay.realDir == "" {
			continue
		}
		if err := tr.lay.writeChannelMap(tr.archives); err != nil {
			r.log.Warn("channel map not updated", "target", tr.t.Name, "error", err.Error())
		}
	}
}

// runJobs runs fn over jobs with up to req.Parallel workers; outcomes keep
// the jobs' order. The first fatal outcome cancels the rest.
func (r *run) runJobs(ctx context.Context, jobs []job, fn func(context.Context, job) outcome) ([]outcome, error) {
	workers := r.req.Parallel
	if workers <= 0 {
		workers = DefaultParallel
	}
	workers = min(workers, max(1, len(jobs)))
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	outs := make([]outcome, len(jobs))
	next := make(chan int)
	var wg sync.WaitGroup
	var mu sync.Mutex
	var fatal error
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				o := fn(ctx, jobs[i])
				outs[i] = o
				if o.fatal != nil {
					mu.Lock()
					if fatal == nil {
						fatal = o.fatal
					}
					mu.Unlock()
					cancel()
				}
			}
		}()
	}
feed:
	for i := range jobs {
		select {
		case next <- i:
		case <-ctx.Done():
			break feed
		}
	}
	close(next)
	wg.Wait()
	if fatal == nil && ctx.Err() != nil {
		fatal = context.Cause(ctx)
	}
	return outs, fatal
}

func isAuth(err error) bool {
	var ae *dce.AuthError
	return errors.As(err, &ae)
}

// scrapeChannel exports what is new in one channel and merges it.
func (r *run) scrapeChannel(ctx context.Context, j job) outcome {
	tr, id := j.tr, j.ch.ID
	t := tr.t
	tr.mu.Lock()
	path := tr.archives[id]
	salv, hasSalv := tr.salvaged[id]
	tr.mu.Unlock()
	label := tr.labels[j.ch.GuildID]

	var o outcome
	if hasSalv {
		e := salvageEntry(tr, id, salv)
		o.salvage = &e
	}
	failed := func(p string, err error) outcome {
		if p == "" {
			p = path
		}
		if _, serr := os.Lstat(p); serr != nil {
			p = "" // no archive (yet): the summary says n/a
		}
		l := label
		if l == "" {
			l = archiveLabel(p)
		}
		r.log.Error("channel failed", "target", t.Name, "channel", id, "error", r.redact(err.Error()))
		o.fail = &summary.Failure{Target: t.Name, ChannelID: id, GuildLabel: l, FilePath: p, Error: r.redact(err.Error())}
		return o
	}
	if path == "" {
		p, err := tr.lay.archiveFor(id)
		if err != nil {
			return failed("", err)
		}
		path = p
	}

	var cursor uint64
	if path != "" {
		c, err := archive.CursorFor(path, tr.lay.metaDir, id)
		if err != nil {
			return failed(path, err)
		}
		cursor = c
	}
	after := ""
	if cursor > 0 {
		after = strconv.FormatUint(cursor, 10)
	}
	if err := os.MkdirAll(tr.lay.tempDir, 0o755); err != nil {
		return failed(path, fmt.Errorf("create %s: %w", tr.lay.tempDir, err))
	}
	tmp := exportPath(tr, id)
	if err := removeFiles(tmp); err != nil {
		return failed(path, err)
	}

	err := r.dce.Export(ctx, id, tmp, after)
	if ctx.Err() != nil {
		// The run is being stopped; a partial stays for the next salvage.
		o.fatal = fmt.Errorf("export channel %s: %w", id, context.Cause(ctx))
		return o
	}
	var (
		skip   *dce.SkipError
		killed *dce.KilledError
		auth   *dce.AuthError
	)
	entry := func(a summary.Action, reason string) outcome {
		if label == "" && path != "" {
			label = archiveLabel(path)
		}
		o.entry = &summary.Channel{Target: t.Name, ChannelID: id, GuildLabel: label, FilePath: path, Action: a, Reason: reason}
		return o
	}
	switch {
	case errors.As(err, &auth):
		o.fatal = err
		return o
	case errors.As(err, &skip):
		r.log.Warn("channel skipped", "target", t.Name, "channel", id, "reason", skip.Reason)
		_ = removeFiles(tmp)
		return entry(summary.Skipped, skip.Reason)
	case errors.As(err, &killed):
		action := summary.Skipped
		if killed.OOM() {
			action = summary.SkippedOOM
		}
		r.log.Warn("export killed; its partial file is merged by the next run", "target", t.Name, "channel", id,
			"signal", killed.Signal, "exit", killed.Code, "partial", tmp)
		reason := fmt.Sprintf("killed by signal %d (exit %d)", killed.Signal, killed.Code)
		o.killed = t.Name + "/" + id + ": export " + reason + "; the partial export is merged by the next run"
		return entry(action, reason)
	case errors.Is(err, dce.ErrNoMessages):
		return r.noMessages(tr, id, path, label, o)
	case err != nil:
		// A partial file, if any, stays for the next salvage.
		return failed(path, err)
	}

	h, err := readHeader(tmp)
	if err != nil {
		_ = removeFiles(tmp)
		return failed(path, &archive.InvalidExportError{Path: tmp, Reason: "no readable header", Err: err})
	}
	if h.ChannelID != id {
		_ = removeFiles(tmp)
		return failed(path, &archive.InvalidExportError{Path: tmp, Reason: fmt.Sprintf("DCE exported channel %q, not %s; the archive was left as it was", h.ChannelID, id)})
	}
	if l := h.label(); l != "" {
		label = l
	}
	if path == "" {
		path = filepath.Join(tr.lay.dir, ArchiveName(h.GuildName, h.Category, h.ChannelName, id))
	}
	res, err := archive.Merge(path, tmp, archive.MergeOptions{ChannelID: id, MetaDir: tr.lay.metaDir})
	_ = removeFiles(tmp)
	if err != nil {
		return failed(path, err)
	}
	tr.setArchive(id, path)
	e := summary.Channel{
		Target: t.Name, ChannelID: id, GuildLabel: label, FilePath: path, Action: summary.Action(res.Action),
		BeforeCount: res.BeforeCount, FetchedCount: res.FetchedCount, AfterCount: res.AfterCount,
		Delta: res.AfterCount - res.BeforeCount,
	}
	if hasSalv {
		// Fold the salvage into this entry: counts from before it.
		o.salvage = nil
		e.BeforeCount = salv.res.BeforeCount
		e.FetchedCount += salv.res.FetchedCount
		e.Delta = e.AfterCount - e.BeforeCount
		switch {
		case salv.res.Action == archive.Created:
			e.Action = summary.Created
		case salv.res.Action == archive.Merged || res.Action == archive.Merged:
			e.Action = summary.Merged
		}
		e.Reason = "includes a salvaged partial export"
	}
	r.log.Debug("channel done", "target", t.Name, "channel", id, "action", string(e.Action),
		"before", e.BeforeCount, "fetched", e.FetchedCount, "after", e.AfterCount)
	o.entry = &e
	return o
}

// noMessages handles older DCE's "no messages in the period" error: the
// archive (if any) is unchanged; its counts come from a merge of an empty
// document with the archive's own header, which changes nothing.
func (r *run) noMessages(tr *targetRun, id, path, label string, o outcome) outcome {
	e := summary.Channel{Target: tr.t.Name, ChannelID: id, GuildLabel: label, FilePath: path, Action: summary.Unchanged}
	if path != "" {
		h, err := readHeader(path)
		if err == nil {
			if e.GuildLabel == "" {
				e.GuildLabel = h.label()
			}
			tmp := exportPath(tr, id)
			if err = writeEmptyDocument(tmp, h); err == nil {
				var res archive.MergeResult
				res, err = archive.Merge(path, tmp, archive.MergeOptions{ChannelID: id, MetaDir: tr.lay.metaDir})
				_ = removeFiles(tmp)
				e.BeforeCount, e.AfterCount = res.BeforeCount, res.AfterCount
			}
		}
		if err != nil {
			o.fail = &summary.Failure{Target: tr.t.Name, ChannelID: id, GuildLabel: e.GuildLabel, FilePath: path, Error: r.redact(err.Error())}
			return o
		}
	}
	o.entry = &e
	return o
}

// writeEmptyDocument writes a complete DCE document without messages
// carrying h's guild and channel.
func writeEmptyDocument(path string, h header) error {
	guild := h.Guild
	if guild == nil {
		guild = []byte("null")
	}
	doc := fmt.Sprintf("{\n  \"guild\": %s,\n  \"channel\": %s,\n  \"dateRange\": {\n    \"after\": null,\n    \"before\": null\n  },\n  \"exportedAt\": null,\n  \"messages\": [],\n  \"messageCount\": 0\n}",
		guild, h.Channel)
	if err := os.WriteFile(path, []byte(doc), 0o644); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}

func sortedKeys[V any](m map[string]V) []string {
	ids := make([]string, 0, len(m))
	for id := range m {
		ids = append(ids, id)
	}
	sortIDs(ids)
	return ids
}
