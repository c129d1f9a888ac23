package main

import (
	"fmt"
	"io"
	"strings"
)

func padRight(s string, n int) string {
	if len(s) >= n {
		return s
	}
	return s + strings.Repeat(" ", n-len(s))
}

func maxLen(ids []string) int {
	n := 0
	for _, id := range ids {
		n = max(n, len(id))
	}
	return n
}

// cmdGuilds prints "<id padded> | <name>", the direct-messages pseudo-guild first.
func cmdGuilds(st *State, stdout io.Writer) int {
	guilds := append([]Guild{dmGuild}, st.Guilds...)
	ids := make([]string, len(guilds))
	for i, g := range guilds {
		ids[i] = g.ID
	}
	w := maxLen(ids)
	for _, g := range guilds {
		fmt.Fprintf(stdout, "%s | %s\n", padRight(g.ID, w), g.Name)
	}
	return exitOK
}

// hierarchicalName is DCE's "Category / name" (just the name without a category).
func hierarchicalName(c Channel) string {
	if c.Category != "" {
		return c.Category + " / " + c.Name
	}
	return c.Name
}

func cmdChannels(st *State, opts options, stdout, stderr io.Writer) int {
	guildID := opts.get("guild")
	if guildID == "" {
		fmt.Fprintln(stderr, "ERROR")
		fmt.Fprintln(stderr, "Missing required option(s):")
		fmt.Fprintln(stderr, "-g|--guild")
		return exitError
	}
	includeVC := true
	if opts.has("include-vc") {
		includeVC = opts.get("include-vc") == "true"
	}
	threads := "none"
	if opts.has("include-threads") {
		threads = strings.ToLower(opts.get("include-threads"))
		switch threads {
		case "none", "active", "all":
		default:
			fmt.Fprintf(stderr, "ERROR\nCan't convert value %q to type 'ThreadInclusionMode'.\n", opts.get("include-threads"))
			return exitError
		}
	}
	var channels []Channel
	if guildID == "0" {
		channels = st.DMs
	} else {
		var g *Guild
		for i := range st.Guilds {
			if st.Guilds[i].ID == guildID {
				g = &st.Guilds[i]
			}
		}
		if g == nil {
			unhandled(stderr, fmt.Sprintf("Request to 'https://discord.com/api/v10/guilds/%s' failed: forbidden.", guildID))
			return exitError
		}
		channels = g.Channels
	}
	var shown []Channel
	for _, c := range channels {
		if c.Voice && !includeVC {
			continue
		}
		shown = append(shown, c)
	}
	ids := make([]string, len(shown))
	for i, c := range shown {
		ids[i] = c.ID
	}
	w := maxLen(ids)
	for _, c := range shown {
		fmt.Fprintf(stdout, "%s | %s\n", padRight(c.ID, w), hierarchicalName(c))
		if threads == "none" {
			continue
		}
		var ts []Channel
		for _, t := range c.Threads {
			if t.Archived && threads != "all" {
				continue
			}
			ts = append(ts, t)
		}
		tids := make([]string, len(ts))
		for i, t := range ts {
			tids[i] = t.ID
		}
		tw := maxLen(tids)
		for _, t := range ts {
			state := "Active"
			if t.Archived {
				state = "Archived"
			}
			fmt.Fprintf(stdout, " * %s | Thread / %s | %s\n", padRight(t.ID, tw), t.Name, state)
		}
	}
	return exitOK
}

func cmdDM(st *State, stdout io.Writer) int {
	ids := make([]string, len(st.DMs))
	for i, c := range st.DMs {
		ids[i] = c.ID
	}
	w := maxLen(ids)
	for _, c := range st.DMs {
		fmt.Fprintf(stdout, "%s | %s\n", padRight(c.ID, w), hierarchicalName(c))
	}
	return exitOK
}
