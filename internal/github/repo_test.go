package github

import (
	"context"
	"errors"
	"strings"
	"testing"
)

func TestParseRepo(t *testing.T) {
	tests := []struct {
		in      string
		want    Repo
		wantErr bool
	}{
		{in: "owner/repo", want: Repo{"owner", "repo"}},
		{in: "github.com/owner/repo", want: Repo{"owner", "repo"}},
		{in: "my-org/my.repo_2", want: Repo{"my-org", "my.repo_2"}},
		{in: "owner/repo.git", want: Repo{"owner", "repo"}},
		{in: "owner", wantErr: true},
		{in: "owner/", wantErr: true},
		{in: "/repo", wantErr: true},
		{in: "a/b/c/d", wantErr: true},
		{in: "owner/re po", wantErr: true},
		{in: "owner/..", wantErr: true},
		{in: "", wantErr: true},
	}
	for _, tt := range tests {
		got, err := ParseRepo(tt.in)
		if (err != nil) != tt.wantErr || got != tt.want {
			t.Errorf("ParseRepo(%q) = %v, %v; want %v, error %v", tt.in, got, err, tt.want, tt.wantErr)
		}
	}
}

func TestParseRemoteURL(t *testing.T) {
	tests := []struct {
		in      string
		want    Repo
		wantErr bool
	}{
		{in: "https://github.com/owner/repo.git", want: Repo{"owner", "repo"}},
		{in: "https://github.com/owner/repo", want: Repo{"owner", "repo"}},
		{in: "https://github.com/owner/repo/", want: Repo{"owner", "repo"}},
		{in: "git@github.com:owner/repo.git", want: Repo{"owner", "repo"}},
		{in: "git@github.com:owner/repo", want: Repo{"owner", "repo"}},
		{in: "ssh://git@github.com/owner/repo.git", want: Repo{"owner", "repo"}},
		{in: "ssh://git@github.com:22/owner/repo.git", want: Repo{"owner", "repo"}},
		{in: "https://x-access-token:ghs_secret99@github.com/owner/repo.git\n", want: Repo{"owner", "repo"}},
		{in: "https://ghe.example.com/team/tool.git", want: Repo{"team", "tool"}},
		{in: "https://github.com/owner", wantErr: true},
		{in: "https://github.com/a/b/c", wantErr: true},
		{in: "/srv/git/repo.git", wantErr: true},
	}
	for _, tt := range tests {
		got, err := ParseRemoteURL(tt.in)
		if (err != nil) != tt.wantErr || got != tt.want {
			t.Errorf("ParseRemoteURL(%q) = %v, %v; want %v, error %v", tt.in, got, err, tt.want, tt.wantErr)
		}
	}
}

func TestParseRemoteURLHidesCredentials(t *testing.T) {
	_, err := ParseRemoteURL("https://user:ghp_secret77@github.com/only-owner")
	if err == nil {
		t.Fatal("want an error for a URL without OWNER/NAME")
	}
	if strings.Contains(err.Error(), "ghp_secret77") {
		t.Fatalf("error %q shows the credentials of the remote URL", err)
	}
}

func TestResolveRepo(t *testing.T) {
	gitOK := func(url string) Runner {
		return func(_ context.Context, name string, args ...string) ([]byte, error) {
			if got := name + " " + strings.Join(args, " "); got != "git -C /work/tree remote get-url origin" {
				return nil, errors.New("unexpected argv: " + got)
			}
			return []byte(url + "\n"), nil
		}
	}
	gitFails := func(context.Context, string, ...string) ([]byte, error) {
		return nil, errors.New("error: No such remote 'origin'")
	}
	tests := []struct {
		name     string
		flag     string
		env      string
		run      Runner
		want     Repo
		wantFrom string
		wantErr  string
	}{
		{name: "flag wins", flag: "a/b", env: "c/d", run: gitOK("git@github.com:e/f.git"), want: Repo{"a", "b"}, wantFrom: "--repo"},
		{name: "GH_REPO next", env: "c/d", run: gitOK("git@github.com:e/f.git"), want: Repo{"c", "d"}, wantFrom: "GH_REPO"},
		{name: "origin https", run: gitOK("https://github.com/e/f.git"), want: Repo{"e", "f"}, wantFrom: "git remote origin"},
		{name: "origin ssh", run: gitOK("git@github.com:e/f.git"), want: Repo{"e", "f"}, wantFrom: "git remote origin"},
		{name: "bad flag", flag: "nope", run: gitOK("git@github.com:e/f.git"), wantErr: "--repo"},
		{name: "bad GH_REPO", env: "x", run: gitOK("git@github.com:e/f.git"), wantErr: "GH_REPO"},
		{name: "no origin", run: gitFails, wantErr: "pass --repo"},
		{name: "origin not GitHub-shaped", run: gitOK("/srv/git/x.git"), wantErr: "pass --repo"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, from, err := ResolveRepo(context.Background(), RepoOptions{
				Flag:    tt.flag,
				Getenv:  func(k string) string { return map[string]string{"GH_REPO": tt.env}[k] },
				Run:     tt.run,
				WorkDir: "/work/tree",
			})
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want one naming %q", err, tt.wantErr)
				}
				return
			}
			if err != nil || got != tt.want || from != tt.wantFrom {
				t.Fatalf("ResolveRepo = %v from %q, %v; want %v from %q", got, from, err, tt.want, tt.wantFrom)
			}
		})
	}
}
