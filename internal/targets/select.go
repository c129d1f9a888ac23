package targets

import (
	"slices"
	"strings"

	"github.com/dcehost/dcehost/internal/failure"
)

// Names returns the configured target names in config order.
func (c *Config) Names() []string {
	names := make([]string, len(c.Targets))
	for i, t := range c.Targets {
		names[i] = t.Name
	}
	return names
}

// Select returns the targets the command line asked for, in config order,
// as copies: every target named with --target (enabled or not), else every
// enabled target. --guild and --channel narrow exactly one selected target
// and must lie inside its scope; they are stored in OnlyGuilds and
// OnlyChannels. Every error is a *failure.UsageError.
func (c *Config) Select(sel Selection) ([]Target, error) {
	for _, flag := range []struct {
		name string
		ids  []string
	}{{"--guild", sel.Guilds}, {"--channel", sel.Channels}} {
		for _, id := range flag.ids {
			if !IsSnowflake(id) {
				return nil, failure.Usagef("%s %q: not a Discord id (digits only, as shown by Discord's Copy ID)", flag.name, id)
			}
		}
	}

	var picked []Target
	if len(sel.Targets) > 0 {
		want := map[string]bool{}
		for _, name := range sel.Targets {
			if !slices.ContainsFunc(c.Targets, func(t Target) bool { return t.Name == name }) {
				return nil, failure.Usagef("--target %q: no such target in %s (targets: %s)", name, c.Path, strings.Join(c.Names(), ", "))
			}
			want[name] = true
		}
		for _, t := range c.Targets {
			if want[t.Name] {
				picked = append(picked, t)
			}
		}
	} else {
		for _, t := range c.Targets {
			if t.Enabled {
				picked = append(picked, t)
			}
		}
		if len(picked) == 0 {
			return nil, failure.Usagef("%s: no target is enabled; set \"enabled\": true or name one with --target (targets: %s)", c.Path, strings.Join(c.Names(), ", "))
		}
	}

	if len(sel.Guilds)+len(sel.Channels) > 0 {
		if len(picked) != 1 {
			names := make([]string, len(picked))
			for i, t := range picked {
				names[i] = t.Name
			}
			return nil, failure.Usagef("--guild and --channel narrow exactly one target, but %d are selected (%s); choose one with --target NAME", len(picked), strings.Join(names, ", "))
		}
		t := &picked[0]
		for _, g := range sel.Guilds {
			switch {
			case t.Kind == DMs:
				return nil, failure.Usagef("--guild %s: target %q has kind %q (direct messages), which has no guilds", g, t.Name, DMs)
			case len(t.GuildIDs) > 0 && !slices.Contains(t.GuildIDs, g):
				return nil, failure.Usagef("--guild %s: not one of target %q's guild_ids (%s)", g, t.Name, strings.Join(t.GuildIDs, ", "))
			}
		}
		for _, ch := range sel.Channels {
			if len(t.ChannelIDs) > 0 && !slices.Contains(t.ChannelIDs, ch) {
				return nil, failure.Usagef("--channel %s: not one of target %q's channel_ids (%s)", ch, t.Name, strings.Join(t.ChannelIDs, ", "))
			}
		}
		t.OnlyGuilds = dedupe(sel.Guilds)
		t.OnlyChannels = dedupe(sel.Channels)
	}

	// Copies, so a caller changing a selected target leaves the config as
	// it was.
	for i := range picked {
		t := &picked[i]
		t.GuildIDs = slices.Clone(t.GuildIDs)
		t.ChannelIDs = slices.Clone(t.ChannelIDs)
		t.GuildNamePatterns = slices.Clone(t.GuildNamePatterns)
	}
	return picked, nil
}

func dedupe(ids []string) []string {
	var out []string
	for _, id := range ids {
		if !slices.Contains(out, id) {
			out = append(out, id)
		}
	}
	return out
}
