package token

import (
	"io"
	"strings"
	"sync"
)

// Mask is what a secret is replaced with in every output.
const Mask = "***"

// Redactor replaces registered secrets (the Discord token, a reloaded
// token, a GitHub token) with Mask. It is safe for concurrent use. The zero
// value is ready to use.
type Redactor struct {
	mu      sync.RWMutex
	secrets []string
}

// Add registers a secret. Values shorter than 4 bytes are ignored: masking
// them would garble ordinary text and they are not real tokens.
func (r *Redactor) Add(secret string) {
	secret = strings.TrimSpace(secret)
	if len(secret) < 4 {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, s := range r.secrets {
		if s == secret {
			return
		}
	}
	r.secrets = append(r.secrets, secret)
	// Longest first, so a secret containing another is masked whole.
	for i := len(r.secrets) - 1; i > 0 && len(r.secrets[i]) > len(r.secrets[i-1]); i-- {
		r.secrets[i], r.secrets[i-1] = r.secrets[i-1], r.secrets[i]
	}
}

// Redact returns s with every registered secret replaced by Mask.
func (r *Redactor) Redact(s string) string {
	if r == nil {
		return s
	}
	r.mu.RLock()
	defer r.mu.RUnlock()
	for _, secret := range r.secrets {
		if strings.Contains(s, secret) {
			s = strings.ReplaceAll(s, secret, Mask)
		}
	}
	return s
}

// Writer returns an io.Writer that redacts each Write before passing it to
// w. Callers must write whole lines (slog handlers and the line-by-line
// child output streamer do), so a secret is never split across writes.
func (r *Redactor) Writer(w io.Writer) io.Writer {
	return &redactingWriter{r: r, w: w}
}

type redactingWriter struct {
	r *Redactor
	w io.Writer
}

func (rw *redactingWriter) Write(p []byte) (int, error) {
	out := rw.r.Redact(string(p))
	if _, err := io.WriteString(rw.w, out); err != nil {
		return 0, err
	}
	return len(p), nil
}
