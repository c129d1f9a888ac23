package gh

import (
	"io"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/dcehost/dcehost/internal/cli/factory"
	"github.com/dcehost/dcehost/internal/iostreams"
)

func testFactory() *factory.Factory {
	f := factory.New("1.2.3")
	f.IO, _, _, _ = iostreams.Test()
	f.Environ = func() []string { return []string{"HOME=/home/op"} }
	return f
}

func TestNewCmdApproveRunsFlags(t *testing.T) {
	type parsed struct {
		Repo, Bashrc, SHA      string
		JSON, Pending, Approve bool
		PR                     int
		RunIDs                 []string
	}
	tests := []struct {
		args []string
		want parsed
	}{
		{args: []string{"1", "2"}, want: parsed{RunIDs: []string{"1", "2"}}},
		{args: []string{"--repo", "o/r", "--json", "--bashrc", "/x/rc", "3"}, want: parsed{Repo: "o/r", JSON: true, Bashrc: "/x/rc", RunIDs: []string{"3"}}},
		{args: []string{"--pending", "--pr", "42", "--approve"}, want: parsed{Pending: true, PR: 42, Approve: true}},
		{args: []string{"--pending", "--sha", "abcdef1"}, want: parsed{Pending: true, SHA: "abcdef1"}},
	}
	for _, tt := range tests {
		var got *ApproveRunsOptions
		cmd := NewCmdApproveRuns(testFactory(), func(o *ApproveRunsOptions) error { got = o; return nil })
		cmd.SetArgs(tt.args)
		if err := cmd.Execute(); err != nil {
			t.Fatalf("%q: %v", tt.args, err)
		}
		p := parsed{Repo: got.Repo, Bashrc: got.Bashrc, SHA: got.SHA, JSON: got.JSON, Pending: got.Pending, Approve: got.Approve, PR: got.PR, RunIDs: got.RunIDs}
		if diff := cmp.Diff(tt.want, p, cmpopts.EquateEmpty()); diff != "" {
			t.Fatalf("%q (-want +got):\n%s", tt.args, diff)
		}
		if got.Home != "/home/op" || got.Redactor == nil || got.Getenv == nil || got.Run == nil {
			t.Fatalf("%q: dependencies not wired from the factory: %+v", tt.args, got.Deps)
		}
	}
}

func TestNewCmdAuthStatusFlags(t *testing.T) {
	var got *AuthStatusOptions
	cmd := NewCmdAuthStatus(testFactory(), func(o *AuthStatusOptions) error { got = o; return nil })
	cmd.SetArgs([]string{"--repo", "o/r", "--json"})
	if err := cmd.Execute(); err != nil {
		t.Fatal(err)
	}
	if got.Repo != "o/r" || !got.JSON {
		t.Fatalf("parsed %+v", got)
	}
	cmd = NewCmdAuthStatus(testFactory(), func(*AuthStatusOptions) error { return nil })
	cmd.SetArgs([]string{"extra"})
	cmd.SetOut(io.Discard)
	cmd.SetErr(io.Discard)
	if err := cmd.Execute(); err == nil {
		t.Fatal("auth-status with an argument: want an error")
	}
}

func TestNewCmdGhGroup(t *testing.T) {
	cmd := NewCmdGh(testFactory())
	var names []string
	for _, c := range cmd.Commands() {
		names = append(names, c.Name())
	}
	if diff := cmp.Diff([]string{"approve-runs", "auth-status"}, names); diff != "" {
		t.Fatalf("subcommands (-want +got):\n%s", diff)
	}
}
