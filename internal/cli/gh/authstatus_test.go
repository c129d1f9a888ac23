package gh

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestAuthStatus(t *testing.T) {
	userClassic := reply{status: 200, header: map[string]string{"X-OAuth-Scopes": "repo, workflow"}, body: `{"login":"octocat","id":1}`}
	userNoRepoScope := reply{status: 200, header: map[string]string{"X-OAuth-Scopes": "read:org, gist"}, body: `{"login":"octocat"}`}
	userFineGrained := reply{status: 200, body: `{"login":"octocat"}`}
	repoAdmin := reply{status: 200, body: `{"full_name":"octo/widgets","permissions":{"admin":true,"maintain":true,"push":true,"triage":true,"pull":true}}`}
	repoWrite := reply{status: 200, body: `{"full_name":"octo/widgets","permissions":{"admin":false,"maintain":false,"push":true,"triage":true,"pull":true}}`}
	repoRead := reply{status: 200, body: `{"full_name":"octo/widgets","permissions":{"admin":false,"maintain":false,"push":false,"triage":false,"pull":true}}`}

	tests := []struct {
		name     string
		user     reply
		repo     reply
		noToken  bool
		noRepo   bool
		want     []string
		wantExit int
	}{
		{name: "admin with a classic token", user: userClassic, repo: repoAdmin, want: []string{
			"token:  from GITHUB_TOKEN (environment)", "login:  octocat", "scopes: repo, workflow", "approve runs in octo/widgets: yes (admin rights)"}},
		{name: "write access", user: userClassic, repo: repoWrite, want: []string{"approve runs in octo/widgets: probably"}},
		{name: "read access", user: userClassic, repo: repoRead, want: []string{"approve runs in octo/widgets: no: read-only access"}},
		{name: "classic token without repo scope", user: userNoRepoScope, repo: repoAdmin, want: []string{
			"scopes: read:org, gist", "approve runs in octo/widgets: no: the classic token lacks the repo scope"}},
		{name: "fine-grained token", user: userFineGrained, repo: repoAdmin, want: []string{
			"scopes: not reported (a fine-grained or app token: approving needs the Actions: write repository permission)", "yes (admin rights)"}},
		{name: "repository not visible", user: userClassic, repo: notFound, want: []string{"approve runs in octo/widgets: unknown (GET /repos/octo/widgets: not found"}},
		{name: "no repository given", user: userClassic, noRepo: true, want: []string{"approve runs: not checked: no repository"}},
		{name: "app token cannot read /user", user: integration, repo: repoWrite, want: []string{"login:  unknown (the token may not read /user", "probably"}},
		{name: "rejected token", user: badCreds, repo: repoAdmin, wantExit: 4},
		{name: "no token", noToken: true, wantExit: 4},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t, map[string][]reply{
				"GET /user":               {tt.user},
				"GET /repos/octo/widgets": {tt.repo},
			})
			if tt.noToken {
				delete(h.env, "GITHUB_TOKEN")
			}
			opts := &AuthStatusOptions{Deps: h.deps(), Repo: "octo/widgets"}
			if tt.noRepo {
				opts.Repo = ""
			}
			err := runAuthStatus(context.Background(), opts)
			if got := exitClass(err); got != tt.wantExit {
				t.Fatalf("exit class %d (err %v), want %d", got, err, tt.wantExit)
			}
			for _, w := range tt.want {
				if !strings.Contains(h.out.String(), w) {
					t.Fatalf("stdout does not contain %q:\n%s", w, h.out)
				}
			}
			if tt.noToken && len(h.requests) != 0 {
				t.Fatalf("requests without a token: %q", h.requests)
			}
			h.assertNoSecret(err)
		})
	}
}

func TestAuthStatusJSON(t *testing.T) {
	h := newHarness(t, map[string][]reply{
		"GET /user":               {{status: 200, header: map[string]string{"X-OAuth-Scopes": "repo"}, body: `{"login":"octocat"}`}},
		"GET /repos/octo/widgets": {{status: 200, body: `{"permissions":{"admin":true,"push":true,"pull":true}}`}},
	})
	if err := runAuthStatus(context.Background(), &AuthStatusOptions{Deps: h.deps(), Repo: "octo/widgets", JSON: true}); err != nil {
		t.Fatal(err)
	}
	var got authStatus
	if err := json.Unmarshal(h.out.Bytes(), &got); err != nil {
		t.Fatalf("%v\n%s", err, h.out)
	}
	want := authStatus{API: h.srv.URL + "/", TokenSource: "GITHUB_TOKEN (environment)", Login: "octocat", Scopes: []string{"repo"},
		ScopesReported: true, Repo: "octo/widgets", Admin: true, Push: true, CanApprove: "yes"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Fatalf("JSON (-want +got):\n%s", diff)
	}
	h.assertNoSecret(nil)
}

func TestAuthStatusBadRepoFlag(t *testing.T) {
	h := newHarness(t, nil)
	err := runAuthStatus(context.Background(), &AuthStatusOptions{Deps: h.deps(), Repo: "nope"})
	if exitClass(err) != 2 || len(h.requests) != 0 {
		t.Fatalf("err %v, requests %q; want a usage error before any request", err, h.requests)
	}
}
