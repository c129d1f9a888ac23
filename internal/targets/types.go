// Package targets parses, validates and selects the targets of
// config/scrape-targets.json.
package targets

// Kind is a target's kind.
type Kind string

const (
	Guild Kind = "guild"
	DMs   Kind = "dms"
)

// Threads is the include_threads setting.
type Threads string

const (
	ThreadsNone   Threads = "none"
	ThreadsActive Threads = "active"
	ThreadsAll    Threads = "all"
)

// Config is a parsed and validated scrape-targets.json.
type Config struct {
	Path        string // absolute path of the file
	ArchiveRoot string // absolute, as written (cleaned)
	Defaults    Defaults
	Targets     []Target
}

// Defaults are the config's "defaults" block.
type Defaults struct {
	IncludeThreads       Threads
	IncludeVoiceChannels bool
}

// Target is one configured target with the defaults applied.
type Target struct {
	Name                 string
	Kind                 Kind
	OutputDir            string // absolute, cleaned
	GuildIDs             []string
	ChannelIDs           []string
	GuildNamePatterns    []string
	Enabled              bool
	ContainerMemory      string
	IncludeThreads       Threads
	IncludeVoiceChannels bool

	// Narrowing from --guild / --channel (only on a selected target).
	OnlyGuilds   []string
	OnlyChannels []string
}

// Selection is what the command line asked for.
type Selection struct {
	Targets  []string
	Guilds   []string
	Channels []string
}

// Args renders the selection back as command-line flags, for the inner run.
func (s Selection) Args() []string {
	var args []string
	for _, t := range s.Targets {
		args = append(args, "--target", t)
	}
	for _, g := range s.Guilds {
		args = append(args, "--guild", g)
	}
	for _, c := range s.Channels {
		args = append(args, "--channel", c)
	}
	return args
}
