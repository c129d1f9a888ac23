package engine

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/dcehost/dcehost/internal/dce"
	"github.com/dcehost/dcehost/internal/iostreams"
	"github.com/dcehost/dcehost/internal/runner"
	"github.com/dcehost/dcehost/internal/targets"
)

// memDCE answers like DCE for a guild whose channels have nothing new:
// every export is DCE's empty document. It isolates dcehost's own
// per-channel cost from the CLI's start-up time.
type memDCE struct{ channels []dce.Channel }

func (m *memDCE) Guilds(context.Context) ([]dce.Guild, error) {
	return []dce.Guild{{ID: "0", Name: "Direct Messages"}, {ID: guildID, Name: "Bench"}}, nil
}

func (m *memDCE) Channels(context.Context, string, string, bool) ([]dce.Channel, error) {
	return m.channels, nil
}

func (m *memDCE) DMs(context.Context) ([]dce.Channel, error) { return nil, nil }

func (m *memDCE) Export(_ context.Context, id, out, after string) error {
	doc := fmt.Sprintf("{\n  \"guild\": {\n    \"id\": %q,\n    \"name\": \"Bench\",\n    \"iconUrl\": \"x\"\n  },\n"+
		"  \"channel\": {\n    \"id\": %q,\n    \"type\": \"GuildTextChat\",\n    \"categoryId\": null,\n    \"category\": null,\n    \"name\": \"c%s\",\n    \"topic\": null\n  },\n"+
		"  \"dateRange\": {\n    \"after\": null,\n    \"before\": null\n  },\n  \"exportedAt\": \"2026-06-04T12:00:00+00:00\",\n  \"messages\": [],\n  \"messageCount\": 0\n}", guildID, id, id)
	return os.WriteFile(out, []byte(doc), 0o644)
}

// benchNoop measures a scrape of channels archives that have nothing new,
// and reports the time per channel.
func benchNoop(b *testing.B, channels int, newDCE func(e *env) func(runner.Request) (DCE, error)) {
	st := fState{Guilds: []fGuild{{ID: guildID, Name: "Bench"}}}
	for i := range channels {
		id := strconv.Itoa(1000000000000000100 + i)
		st.Guilds[0].Channels = append(st.Guilds[0].Channels, fChan{ID: id, Name: "c" + id, Generate: &fGen{Count: 2000, FirstID: "2000000000000000000"}})
	}
	e := newEnv(b, st)
	tg := targets.Target{Name: "bench", Kind: targets.Guild, OutputDir: filepath.Join(e.archive, "bench"), GuildIDs: []string{guildID}, IncludeThreads: targets.ThreadsNone}
	e.cfg.Targets = []targets.Target{tg}
	// First run creates the archives (2,000 messages each) and the index.
	if r := e.run(runner.Scrape, 1, tg); r.err != nil {
		b.Fatal(r.err)
	}
	l := e.local()
	if newDCE != nil {
		l.NewDCE = newDCE(e)
	}
	ios, _, _, _ := iostreams.Test()
	req := runner.Request{Mode: runner.Scrape, Config: e.cfg, Targets: []targets.Target{tg}, Token: testToken, Parallel: 1, IO: ios}
	b.ResetTimer()
	for b.Loop() {
		if err := l.Run(context.Background(), req); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(channels)/1e6, "ms/channel")
}

// BenchmarkNoopChannel is dcehost's own cost per channel with nothing new
// (scan, cursor from the index, export validation, no-op merge, summary).
func BenchmarkNoopChannel(b *testing.B) {
	benchNoop(b, 20, func(*env) func(runner.Request) (DCE, error) {
		var chans []dce.Channel
		for i := range 20 {
			id := strconv.Itoa(1000000000000000100 + i)
			chans = append(chans, dce.Channel{ID: id, Name: "c" + id})
		}
		return func(runner.Request) (DCE, error) { return &memDCE{channels: chans}, nil }
	})
}

// BenchmarkNoopChannelWithCLI is the same through the fake DCE CLI
// process (adds one process start per channel and per listing).
func BenchmarkNoopChannelWithCLI(b *testing.B) {
	benchNoop(b, 20, nil)
}
