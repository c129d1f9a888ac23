// Package crashtest holds the crash test of a real dcehost process: it
// builds ./cmd/dcehost and the fake DCE (testdata/fakedce), SIGKILLs
// `dcehost scrape --runner local` and `dcehost salvage --runner local` at
// random instants and checks, after every kill, that each archive is
// valid and still has every message id it had, that nothing outside the
// targets' output_dirs was written but the archive lock, that the lock was
// released with the process, and that a clean re-run converges byte for
// byte to the archives of an uninterrupted run.
//
// The package has only tests. Run it with `make test-crash`
// (DCEHOST_CRASH_KILLS kills, 100 by default there, 5 in `go test`);
// DCEHOST_CRASH_SEED replays the random choices of a logged seed.
package crashtest
