package engine

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"unicode"

	"github.com/dcehost/dcehost/internal/dce"
	"github.com/dcehost/dcehost/internal/failure"
	"github.com/dcehost/dcehost/internal/targets"
)

// chanRef is a channel to export.
type chanRef struct {
	ID      string
	GuildID string // "" when not known before the export
}

// NormalizeGuildName is how guild names and guild_name_patterns are
// compared: lower-cased, only letters and digits kept.
func NormalizeGuildName(s string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(s) {
		if unicode.IsLetter(r) || unicode.IsDigit(r) {
			b.WriteRune(r)
		}
	}
	return b.String()
}

// MatchGuilds returns the guilds whose normalised name equals or contains
// a normalised pattern (the direct-messages pseudo-guild never matches).
func MatchGuilds(guilds []dce.Guild, patterns []string) []dce.Guild {
	var out []dce.Guild
	for _, g := range guilds {
		if g.ID == dce.DirectMessagesGuildID {
			continue
		}
		name := NormalizeGuildName(g.Name)
		for _, p := range patterns {
			if p = NormalizeGuildName(p); p != "" && strings.Contains(name, p) {
				out = append(out, g)
				break
			}
		}
	}
	return out
}

func (r *run) listGuilds(ctx context.Context) ([]dce.Guild, error) {
	r.guildsOnce.Do(func() {
		r.guilds, r.guildsErr = r.dce.Guilds(ctx)
	})
	return r.guilds, r.guildsErr
}

// guildIDs are the guilds a guild target covers: guild_ids, or the one
// guild matching guild_name_patterns; narrowed by --guild.
func (r *run) guildIDs(ctx context.Context, tr *targetRun) ([]string, error) {
	t := tr.t
	ids := t.GuildIDs
	if len(ids) == 0 && len(t.GuildNamePatterns) > 0 {
		guilds, err := r.listGuilds(ctx)
		if err != nil {
			return nil, err
		}
		m := MatchGuilds(guilds, t.GuildNamePatterns)
		switch len(m) {
		case 0:
			r.log.Warn("no guild matches the target's guild_name_patterns; only channels with an archive are exported",
				"target", t.Name, "patterns", t.GuildNamePatterns)
		case 1:
			ids = []string{m[0].ID}
		default:
			var names []string
			for _, g := range m {
				names = append(names, guildLabel(g.Name, g.ID))
			}
			return nil, failure.Usagef("target %q: guild_name_patterns %q match %d guilds (%s); make them match exactly one, or use guild_ids",
				t.Name, t.GuildNamePatterns, len(m), strings.Join(names, ", "))
		}
	}
	if len(t.OnlyGuilds) > 0 {
		var keep []string
		for _, id := range ids {
			if slices.Contains(t.OnlyGuilds, id) {
				keep = append(keep, id)
			}
		}
		ids = keep
	}
	return ids, nil
}

// resolve returns the channels of a target: the discovered ones (per
// compat.md) united with every channel that already has an archive or a
// channel-map entry, narrowed by --guild / --channel.
func (r *run) resolve(ctx context.Context, tr *targetRun) ([]chanRef, error) {
	t := tr.t
	var out []chanRef
	seen := map[string]bool{}
	add := func(c chanRef) {
		if !seen[c.ID] {
			seen[c.ID] = true
			out = append(out, c)
		}
	}
	if len(t.OnlyChannels) > 0 {
		for _, id := range t.OnlyChannels {
			add(chanRef{ID: id})
		}
		return out, nil
	}

	switch {
	case t.Kind == targets.DMs:
		chans, err := r.dce.DMs(ctx)
		if err != nil {
			return nil, err
		}
		tr.labels[dce.DirectMessagesGuildID] = guildLabel("Direct Messages", dce.DirectMessagesGuildID)
		for _, c := range chans {
			add(chanRef{ID: c.ID, GuildID: dce.DirectMessagesGuildID})
		}
	case len(t.ChannelIDs) > 0:
		for _, id := range t.ChannelIDs {
			add(chanRef{ID: id})
		}
	default:
		gids, err := r.guildIDs(ctx, tr)
		if err != nil {
			return nil, err
		}
		if len(gids) > 0 {
			// One listing of guild names for the labels of skipped channels.
			if guilds, err := r.listGuilds(ctx); err == nil {
				for _, g := range guilds {
					tr.labels[g.ID] = guildLabel(g.Name, g.ID)
				}
			} else if isFatal(err) {
				return nil, err
			}
		}
		for _, gid := range gids {
			chans, err := r.dce.Channels(ctx, gid, string(t.IncludeThreads), t.IncludeVoiceChannels)
			var skip *dce.SkipError
			if errors.As(err, &skip) {
				r.log.Warn("guild not accessible; only channels with an archive are exported",
					"target", t.Name, "guild", gid, "reason", skip.Reason)
				continue
			}
			if err != nil {
				return nil, err
			}
			for _, c := range chans {
				add(chanRef{ID: c.ID, GuildID: gid})
			}
		}
	}

	// The discovery fix: channels that already have an archive are
	// exported too, even when no longer listed.
	for _, id := range tr.lay.knownIDs() {
		if seen[id] {
			continue
		}
		if len(t.OnlyGuilds) > 0 {
			p, err := tr.lay.archiveFor(id)
			if err != nil || p == "" {
				continue
			}
			h, err := readHeader(p)
			if err != nil || !slices.Contains(t.OnlyGuilds, h.GuildID) {
				continue
			}
		}
		add(chanRef{ID: id})
	}
	return out, nil
}

// isFatal reports errors that end the run: a rejected token, or the run
// being cancelled.
func isFatal(err error) bool {
	var ae *dce.AuthError
	return errors.As(err, &ae) || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded)
}

func resolveError(t targets.Target, err error) error {
	return fmt.Errorf("target %s: resolve channels: %w", t.Name, err)
}
