package dce

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func bytesReader(b []byte) *bytes.Reader { return bytes.NewReader(b) }

const secret = "mfa.SECRET-token-value"

const state = `{
  "tokens": ["` + secret + `"],
  "now": "2026-06-04T12:00:00Z",
  "guilds": [
    {"id": "123456789012345678", "name": "My | Server", "channels": [
      {"id": "1000000000000000001", "name": "general", "category": "Text / Chat", "generate": {"count": 3, "first_id": "999999999999999998"},
       "threads": [
         {"id": "1000000000000000010", "name": "live | one"},
         {"id": "1000000000000000011", "name": "old", "archived": true}]},
      {"id": "42", "name": "Lounge", "voice": true},
      {"id": "43", "name": "secret", "error": "forbidden"},
      {"id": "44", "name": "hidden", "error": "forbidden_resolve"},
      {"id": "45", "name": "gone", "error": "not_found"},
      {"id": "46", "name": "forum", "forum": true},
      {"id": "47", "name": "oom", "fault": {"kill_after": 1, "signal": "KILL"}, "generate": {"count": 3, "first_id": "100"}},
      {"id": "48", "name": "term", "fault": {"kill_after": 0, "signal": "TERM"}, "generate": {"count": 3, "first_id": "100"}},
      {"id": "49", "name": "limited", "error": "rate_limited"},
      {"id": "50", "name": "weird", "fault": {"exit_code": 3, "stderr": "room 401 403 OOM Killed skilled\n"}},
      {"id": "51", "name": "wrapped", "fault": {"exit_code": 137, "stderr": ""}},
      {"id": "52", "name": "empty"}
    ]}
  ],
  "dms": [{"id": "20", "name": "friend"}, {"id": "2100", "name": "group"}]
}`

func TestListings(t *testing.T) {
	c, logPath := fake(t, state, secret)
	ctx := context.Background()

	guilds, err := c.Guilds(ctx)
	if err != nil {
		t.Fatal(err)
	}
	wantGuilds := []Guild{{"0", "Direct Messages"}, {"123456789012345678", "My | Server"}}
	if diff := cmp.Diff(wantGuilds, guilds); diff != "" {
		t.Errorf("guilds (-want +got):\n%s", diff)
	}

	chans, err := c.Channels(ctx, "123456789012345678", "all", false)
	if err != nil {
		t.Fatal(err)
	}
	ids := func(cs []Channel) []string {
		var out []string
		for _, c := range cs {
			out = append(out, c.ID)
		}
		return out
	}
	if chans[0] != (Channel{ID: "1000000000000000001", Name: "Text / Chat / general"}) {
		t.Errorf("first channel = %+v", chans[0])
	}
	wantThreads := []Channel{
		{ID: "1000000000000000010", Name: "live | one", Thread: true, ParentID: "1000000000000000001"},
		{ID: "1000000000000000011", Name: "old", Thread: true, ParentID: "1000000000000000001", Archived: true},
	}
	if diff := cmp.Diff(wantThreads, chans[1:3]); diff != "" {
		t.Errorf("threads (-want +got):\n%s", diff)
	}
	if slices.Contains(ids(chans), "42") {
		t.Errorf("voice channel listed with voice=false: %v", ids(chans))
	}

	active, err := c.Channels(ctx, "123456789012345678", "active", true)
	if err != nil {
		t.Fatal(err)
	}
	if got := ids(active); !slices.Contains(got, "42") || !slices.Contains(got, "1000000000000000010") || slices.Contains(got, "1000000000000000011") {
		t.Errorf("active threads + voice: got %v", got)
	}
	none, err := c.Channels(ctx, "123456789012345678", "none", true)
	if err != nil {
		t.Fatal(err)
	}
	for _, ch := range none {
		if ch.Thread {
			t.Errorf("thread listed with threads=none: %+v", ch)
		}
	}

	dms, err := c.DMs(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]Channel{{ID: "20", Name: "friend"}, {ID: "2100", Name: "group"}}, dms); diff != "" {
		t.Errorf("dms (-want +got):\n%s", diff)
	}

	for _, l := range readLog(t, logPath) {
		if !l.TokenSet {
			t.Errorf("%v: DISCORD_TOKEN not set in the child", l.Argv)
		}
		if strings.Contains(strings.Join(l.Argv, " "), secret) {
			t.Errorf("token in argv: %v", l.Argv)
		}
	}
	wantArgv := []string{"channels", "--guild", "123456789012345678", "--include-vc", "false", "--include-threads", "all"}
	if diff := cmp.Diff(wantArgv, readLog(t, logPath)[1].Argv); diff != "" {
		t.Errorf("channels argv (-want +got):\n%s", diff)
	}
}

func TestExportClassification(t *testing.T) {
	tests := []struct {
		name    string
		channel string
		token   string
		check   func(t *testing.T, err error)
		file    bool
	}{
		{name: "ok", channel: "1000000000000000001", token: secret, file: true, check: noErr},
		{name: "empty period is success", channel: "52", token: secret, file: true, check: noErr},
		{name: "bad token", channel: "1000000000000000001", token: "wrong-token", check: isAuth},
		{name: "forbidden during export", channel: "43", token: secret, check: isSkip(ReasonForbidden)},
		{name: "forbidden while resolving", channel: "44", token: secret, check: isSkip(ReasonForbidden)},
		{name: "not found", channel: "45", token: secret, check: isSkip(ReasonNotFound)},
		{name: "unknown channel", channel: "777", token: secret, check: isSkip(ReasonNotFound)},
		{name: "forum", channel: "46", token: secret, check: isSkip(ReasonForum)},
		{name: "sigkill", channel: "47", token: secret, file: true, check: isKilled(9, 137)},
		{name: "sigterm", channel: "48", token: secret, file: true, check: isKilled(15, 143)},
		{name: "exit 137 from a wrapper", channel: "51", token: secret, check: isKilled(9, 137)},
		{name: "rate limited", channel: "49", token: secret, check: isExit(1, "Request to 'https://discord.com/api/v10/channels/49/messages?limit=100&after=0' failed: too many requests.")},
		{name: "no substring matching", channel: "50", token: secret, check: isExit(3, "room 401 403 OOM Killed skilled")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, logPath := fake(t, state, tt.token)
			out := filepath.Join(t.TempDir(), "tmp", "x.json")
			err := c.Export(context.Background(), tt.channel, out, "")
			tt.check(t, err)
			_, statErr := os.Stat(out)
			if (statErr == nil) != tt.file {
				t.Errorf("file exists = %v, want %v", statErr == nil, tt.file)
			}
			if err != nil && strings.Contains(err.Error(), tt.token) {
				t.Errorf("token in error: %v", err)
			}
			for _, l := range readLog(t, logPath) {
				if slices.Contains(l.Argv, tt.token) || !l.TokenSet {
					t.Errorf("argv %v token_set %v", l.Argv, l.TokenSet)
				}
			}
		})
	}
}

func TestExportOlderDCEEmpty(t *testing.T) {
	st := strings.Replace(state, `"now"`, `"older_dce": true, "now"`, 1)
	c, _ := fake(t, st, secret)
	out := filepath.Join(t.TempDir(), "x.json")
	err := c.Export(context.Background(), "1000000000000000001", out, "1000000000000000000")
	if !errors.Is(err, ErrNoMessages) {
		t.Fatalf("err = %v, want ErrNoMessages", err)
	}
}

func TestExportArgv(t *testing.T) {
	c, logPath := fake(t, state, secret)
	out := filepath.Join(t.TempDir(), "x.json")
	if err := c.Export(context.Background(), "1000000000000000001", out, "999999999999999999"); err != nil {
		t.Fatal(err)
	}
	want := []string{"export", "--channel", "1000000000000000001", "--format", "Json", "--output", out, "--after", "999999999999999999"}
	if diff := cmp.Diff(want, readLog(t, logPath)[0].Argv); diff != "" {
		t.Errorf("argv (-want +got):\n%s", diff)
	}
	data, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(data, []byte(`"id": "1000000000000000000"`)) || bytes.Contains(data, []byte(`"id": "999999999999999999"`)) {
		t.Errorf("export after 999999999999999999 has the wrong messages:\n%s", data)
	}
}

func TestEnvReplacesToken(t *testing.T) {
	c := &Client{Token: "new-token", Env: []string{"A=1", "DISCORD_TOKEN=old-token"}}
	if diff := cmp.Diff([]string{"A=1", "DISCORD_TOKEN=new-token"}, c.env()); diff != "" {
		t.Errorf("env (-want +got):\n%s", diff)
	}
}

func TestMissingTokenIsNotAuth(t *testing.T) {
	c, _ := fake(t, state, "")
	_, err := c.Guilds(context.Background())
	var ae *AuthError
	var ee *ExitError
	if errors.As(err, &ae) || !errors.As(err, &ee) || !strings.Contains(ee.Message, "Missing required option(s)") {
		t.Fatalf("err = %v, want an ExitError about the missing token", err)
	}
}

func noErr(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatalf("err = %v", err)
	}
}

func isAuth(t *testing.T, err error) {
	t.Helper()
	var ae *AuthError
	if !errors.As(err, &ae) || ae.Message != "Authentication token is invalid." {
		t.Fatalf("err = %#v, want AuthError", err)
	}
}

func isSkip(reason string) func(*testing.T, error) {
	return func(t *testing.T, err error) {
		t.Helper()
		var se *SkipError
		if !errors.As(err, &se) || se.Reason != reason {
			t.Fatalf("err = %v, want SkipError %s", err, reason)
		}
	}
}

func isKilled(sig, code int) func(*testing.T, error) {
	return func(t *testing.T, err error) {
		t.Helper()
		var ke *KilledError
		if !errors.As(err, &ke) || ke.Signal != sig || ke.Code != code {
			t.Fatalf("err = %v, want KilledError %d/%d", err, sig, code)
		}
	}
}

func isExit(code int, msg string) func(*testing.T, error) {
	return func(t *testing.T, err error) {
		t.Helper()
		var ee *ExitError
		if !errors.As(err, &ee) || ee.Code != code || !strings.Contains(ee.Message, msg) {
			t.Fatalf("err = %#v, want ExitError %d containing %q", err, code, msg)
		}
		var se *SkipError
		var ae *AuthError
		var ke *KilledError
		if errors.As(err, &se) || errors.As(err, &ae) || errors.As(err, &ke) {
			t.Fatalf("err %v misclassified", err)
		}
	}
}

func TestClassifyExactMessages(t *testing.T) {
	tests := []struct {
		name   string
		stderr string
		want   string // type name
	}{
		{"auth unhandled", "DiscordChatExporter.Core.Exceptions.DiscordChatExporterException: Authentication token is invalid.\n   at X\n", "auth"},
		{"auth bare", "Authentication token is invalid.\n", "auth"},
		{"auth in a channel name is not auth", "Authentication token is invalid. chat: Request failed\n", "exit"},
		{"401 in a channel id", "Failed to export the following channel(s):\nc401: boom 403\nExport failed.\n", "exit"},
		{"forbidden per channel", "Failed to export the following channel(s):\nText / a: Request to 'https://discord.com/api/v10/channels/1/messages?limit=100' failed: forbidden.\n\nExport failed.\n", "forbidden"},
		{"forbidden word elsewhere", "channel forbidden-zone failed\n", "exit"},
		{"not found", "X: Request to 'u' failed: not found.\n", "not_found"},
		{"forum", "Text / f: Channel 'f' of guild 'G' is a forum and cannot be exported directly. You need to pull its threads.\n", "forum"},
		{"killed word", "Killed\n", "exit"},
		{"oom word", "OOM while in the room\n", "exit"},
		{"empty old DCE", "Failed to export the following channel(s):\nT / c: Channel 'c' of guild 'g' does not contain any messages within the specified period.\n\nExport failed.\n", "empty"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := Classify(1, 0, nil, []byte(tt.stderr))
			var got string
			var ae *AuthError
			var se *SkipError
			var ee *ExitError
			switch {
			case errors.As(err, &ae):
				got = "auth"
			case errors.As(err, &se):
				got = se.Reason
			case errors.Is(err, ErrNoMessages):
				got = "empty"
			case errors.As(err, &ee):
				got = "exit"
			}
			if got != tt.want {
				t.Errorf("Classify = %v (%s), want %s", err, got, tt.want)
			}
		})
	}
}
