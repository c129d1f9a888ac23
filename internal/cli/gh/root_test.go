package gh_test

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/dcehost/dcehost/internal/cli/factory"
	"github.com/dcehost/dcehost/internal/cli/root"
	"github.com/dcehost/dcehost/internal/failure"
	"github.com/dcehost/dcehost/internal/github"
	"github.com/dcehost/dcehost/internal/iostreams"
)

// The command as main runs it: the real command tree and factory, GitHub
// replaced through GITHUB_API_URL.
func TestApproveRunsThroughRoot(t *testing.T) {
	const tok = "ghp_rootLevelToken99887766"
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer "+tok {
			w.WriteHeader(401)
			_, _ = w.Write([]byte(`{"message":"Bad credentials"}`))
			return
		}
		switch r.URL.Path {
		case "/repos/octo/widgets/actions/runs/1/approve":
			w.WriteHeader(201)
		case "/repos/octo/widgets/actions/runs/2/approve":
			w.WriteHeader(403)
			_, _ = w.Write([]byte(`{"message":"Must have admin rights to Repository.","status":"403"}`))
		default:
			w.WriteHeader(404)
			_, _ = w.Write([]byte(`{"message":"Not Found"}`))
		}
	}))
	defer srv.Close()

	tests := []struct {
		name       string
		args       []string
		env        []string
		wantOut    []string
		wantPolicy bool
		wantUsage  bool
		wantAuth   bool
	}{
		{name: "approved", args: []string{"gh", "approve-runs", "--repo", "octo/widgets", "1"},
			wantOut: []string{"approved 1 on octo/widgets"}},
		{name: "policy", args: []string{"-v", "gh", "approve-runs", "--repo", "octo/widgets", "1", "2"},
			wantOut: []string{"approved 1 on octo/widgets", "POLICY_BLOCKER: run 2 on octo/widgets"}, wantPolicy: true},
		{name: "bad run id", args: []string{"gh", "approve-runs", "--repo", "octo/widgets", "1", "x"}, wantUsage: true},
		{name: "unknown flag", args: []string{"gh", "approve-runs", "--bogus", "1"}, wantUsage: true},
		{name: "rejected token", args: []string{"gh", "auth-status", "--repo", "octo/widgets"},
			env: []string{"GITHUB_TOKEN=ghp_wrongToken12345"}, wantAuth: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := factory.New("test")
			io, _, out, errOut := iostreams.Test()
			f.IO = io
			// Getenv takes the first match: the case's own variables win.
			env := append(append([]string{}, tt.env...), "GITHUB_TOKEN="+tok, "GITHUB_API_URL="+srv.URL, "HOME="+t.TempDir(), "PATH=")
			f.Environ = func() []string { return env }
			err := root.Execute(f, tt.args)

			var usage *failure.UsageError
			var policy *github.PolicyError
			var auth *github.AuthError
			switch {
			case tt.wantUsage:
				if !errors.As(err, &usage) {
					t.Fatalf("err = %v, want a usage error", err)
				}
			case tt.wantPolicy:
				if !errors.As(err, &policy) {
					t.Fatalf("err = %v, want *github.PolicyError", err)
				}
			case tt.wantAuth:
				if !errors.As(err, &auth) {
					t.Fatalf("err = %v, want *github.AuthError", err)
				}
			default:
				if err != nil {
					t.Fatal(err)
				}
			}
			for _, w := range tt.wantOut {
				if !strings.Contains(out.String(), w) {
					t.Fatalf("stdout does not contain %q:\n%s", w, out)
				}
			}
			for _, s := range []string{out.String(), errOut.String(), errString(err)} {
				if strings.Contains(s, tok) || strings.Contains(s, "ghp_wrongToken12345") {
					t.Fatalf("the token shows: %q", s)
				}
			}
		})
	}
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}
