package diskspace

import "fmt"

// LowError: not enough free space under the archive root. Exit code 5.
type LowError struct {
	Path   string
	FreeMB uint64
	NeedMB uint64
}

func (e *LowError) Error() string {
	return fmt.Sprintf("not enough free disk space under %s: %d MB free, %d MB required (DCE_MIN_FREE_MB); free some space or lower DCE_MIN_FREE_MB",
		e.Path, e.FreeMB, e.NeedMB)
}
