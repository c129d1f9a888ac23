// Package archive keeps DiscordChatExporter (DCE) JSON archives: a
// streaming scanner, the cursor (largest message id) with a small index,
// the append-only merge of an export into an archive, the crash-safe commit
// (temp file, fsync, re-validation, rename, directory fsync), salvage of
// partial exports left by a killed DCE, and verification.
//
// Message ids are snowflakes compared as unsigned 64-bit integers, never as
// strings. Bytes of archived messages are copied through unchanged.
package archive

import (
	"fmt"
	"strconv"
)

// InvalidArchiveError: the archive is not a complete, valid DCE document,
// or belongs to another channel. The archive was left untouched.
type InvalidArchiveError struct {
	Path   string
	Reason string
	Err    error // underlying cause, if any
}

func (e *InvalidArchiveError) Error() string {
	return fmt.Sprintf("invalid archive %s: %s", e.Path, e.Reason)
}

func (e *InvalidArchiveError) Unwrap() error { return e.Err }

// InvalidExportError: an export (or partial export) is not usable: not a
// complete document, another channel, ids that are not snowflakes.
type InvalidExportError struct {
	Path   string
	Reason string
	Err    error
}

func (e *InvalidExportError) Error() string {
	return fmt.Sprintf("invalid export %s: %s", e.Path, e.Reason)
}

func (e *InvalidExportError) Unwrap() error { return e.Err }

// ShrinkError: a merge result would miss message ids the archive had; it
// was refused and the archive left as it was.
type ShrinkError struct {
	Path    string   // the archive
	Missing int      // how many ids of the archive the result lacks
	Example []uint64 // a few of them
}

func (e *ShrinkError) Error() string {
	ex := ""
	for i, id := range e.Example {
		if i > 0 {
			ex += ", "
		}
		ex += strconv.FormatUint(id, 10)
	}
	return fmt.Sprintf("refusing to replace archive %s: the result lacks %d message id(s) it had (e.g. %s)", e.Path, e.Missing, ex)
}
