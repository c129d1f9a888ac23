package targets

import (
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/dcehost/dcehost/internal/failure"
)

func TestSelect(t *testing.T) {
	type picked struct {
		Name                     string
		OnlyGuilds, OnlyChannels []string
	}
	tests := []struct {
		name    string
		sel     Selection
		want    []picked
		wantErr []string
	}{
		{name: "all enabled", sel: Selection{},
			want: []picked{{Name: "myserver"}, {Name: "numeric"}, {Name: "by-name"}}},
		{name: "named disabled target", sel: Selection{Targets: []string{"dms"}},
			want: []picked{{Name: "dms"}}},
		{name: "config order, duplicates once", sel: Selection{Targets: []string{"by-name", "myserver", "by-name"}},
			want: []picked{{Name: "myserver"}, {Name: "by-name"}}},
		{name: "unknown target lists names", sel: Selection{Targets: []string{"nope"}},
			wantErr: []string{`--target "nope": no such target`, "valid.json", "myserver, dms, numeric, by-name"}},
		{name: "guild in guild_ids", sel: Selection{Targets: []string{"myserver"}, Guilds: []string{"123456789012345678"}},
			want: []picked{{Name: "myserver", OnlyGuilds: []string{"123456789012345678"}}}},
		{name: "guild outside guild_ids", sel: Selection{Targets: []string{"myserver"}, Guilds: []string{"999"}},
			wantErr: []string{`--guild 999: not one of target "myserver"'s guild_ids (123456789012345678)`}},
		{name: "guild for dms", sel: Selection{Targets: []string{"dms"}, Guilds: []string{"1"}},
			wantErr: []string{`--guild 1: target "dms" has kind "dms"`}},
		{name: "guild with name patterns only", sel: Selection{Targets: []string{"by-name"}, Guilds: []string{"42", "42"}},
			want: []picked{{Name: "by-name", OnlyGuilds: []string{"42"}}}},
		{name: "channel in channel_ids", sel: Selection{Targets: []string{"numeric"}, Channels: []string{"333"}},
			want: []picked{{Name: "numeric", OnlyChannels: []string{"333"}}}},
		{name: "channel outside channel_ids", sel: Selection{Targets: []string{"numeric"}, Channels: []string{"444"}},
			wantErr: []string{`--channel 444: not one of target "numeric"'s channel_ids (222222222222222222, 333)`}},
		{name: "channel without channel_ids", sel: Selection{Targets: []string{"myserver"}, Channels: []string{"444"}},
			want: []picked{{Name: "myserver", OnlyChannels: []string{"444"}}}},
		{name: "channel of dms", sel: Selection{Targets: []string{"dms"}, Channels: []string{"444"}},
			want: []picked{{Name: "dms", OnlyChannels: []string{"444"}}}},
		{name: "guild with several targets", sel: Selection{Guilds: []string{"123456789012345678"}},
			wantErr: []string{"exactly one target, but 3 are selected (myserver, numeric, by-name)", "--target NAME"}},
		{name: "channel with two named", sel: Selection{Targets: []string{"myserver", "numeric"}, Channels: []string{"333"}},
			wantErr: []string{"exactly one target, but 2 are selected"}},
		{name: "guild not a snowflake", sel: Selection{Targets: []string{"myserver"}, Guilds: []string{"my server"}},
			wantErr: []string{`--guild "my server": not a Discord id`}},
		{name: "channel overflows", sel: Selection{Targets: []string{"myserver"}, Channels: []string{"18446744073709551616"}},
			wantErr: []string{`--channel "18446744073709551616": not a Discord id`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, err := Load("testdata/valid.json")
			if err != nil {
				t.Fatal(err)
			}
			got, err := cfg.Select(tt.sel)
			if tt.wantErr != nil {
				if !failure.IsUsage(err) {
					t.Fatalf("Select = %v, %v; want a usage error", got, err)
				}
				for _, w := range tt.wantErr {
					if !strings.Contains(err.Error(), w) {
						t.Errorf("error %q does not contain %q", err, w)
					}
				}
				return
			}
			if err != nil {
				t.Fatalf("Select: %v", err)
			}
			var names []picked
			for _, tg := range got {
				names = append(names, picked{tg.Name, tg.OnlyGuilds, tg.OnlyChannels})
			}
			if diff := cmp.Diff(tt.want, names); diff != "" {
				t.Fatalf("Select mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestSelectNoneEnabled(t *testing.T) {
	cfg := &Config{Path: "/c.json", Targets: []Target{{Name: "a"}, {Name: "b"}}}
	_, err := cfg.Select(Selection{})
	if !failure.IsUsage(err) || !strings.Contains(err.Error(), "no target is enabled") || !strings.Contains(err.Error(), "a, b") {
		t.Fatalf("Select = %v, want a usage error listing the targets", err)
	}
}

func TestSelectReturnsCopies(t *testing.T) {
	cfg, err := Load("testdata/valid.json")
	if err != nil {
		t.Fatal(err)
	}
	got, err := cfg.Select(Selection{Targets: []string{"myserver"}, Guilds: []string{"123456789012345678"}})
	if err != nil {
		t.Fatal(err)
	}
	got[0].GuildIDs[0] = "1"
	got[0].Name = "changed"
	if cfg.Targets[0].GuildIDs[0] != "123456789012345678" || cfg.Targets[0].Name != "myserver" {
		t.Fatalf("Select shares memory with the config: %+v", cfg.Targets[0])
	}
	if len(cfg.Targets[0].OnlyGuilds) != 0 {
		t.Fatalf("narrowing leaked into the config: %+v", cfg.Targets[0])
	}
}

func TestSelectionArgs(t *testing.T) {
	sel := Selection{Targets: []string{"a", "b"}, Guilds: []string{"1"}, Channels: []string{"2"}}
	want := []string{"--target", "a", "--target", "b", "--guild", "1", "--channel", "2"}
	if got := sel.Args(); !slices.Equal(got, want) {
		t.Fatalf("Args = %q, want %q", got, want)
	}
}
