package archive

import (
	"errors"
	"fmt"
	"os"
	"slices"
	"strconv"
)

// Report is the result of Verify.
type Report struct {
	Path         string   `json:"path"`
	ChannelID    string   `json:"channel_id"`
	Messages     int      `json:"messages"`
	MessageCount int64    `json:"message_count"` // as declared; -1 when absent
	MaxID        string   `json:"max_id"`
	Duplicates   int      `json:"duplicate_ids"`
	OutOfOrder   int      `json:"out_of_order"`
	Problems     []string `json:"problems,omitempty"`
}

// OK reports whether the archive has no problem.
func (r Report) OK() bool { return len(r.Problems) == 0 }

// Verify checks an archive: a complete, valid JSON document whose
// channel.id matches the "[<id>].json" file name, with unique message ids
// in increasing order and a right messageCount. An archive that is not a
// complete, valid document gives an *InvalidArchiveError; every other
// finding is listed in Report.Problems.
func Verify(path string) (Report, error) {
	r := Report{Path: path, MessageCount: -1}
	f, err := os.Open(path)
	if err != nil {
		return r, fmt.Errorf("verify: %w", err)
	}
	defer f.Close()
	sc := NewScanner(f)
	var ids []uint64
	var prev, max uint64
	for sc.Next() {
		id := sc.Message().ID
		if len(ids) > 0 && id < prev {
			r.OutOfOrder++
		}
		ids = append(ids, id)
		prev = id
		if id > max {
			max = id
		}
	}
	if err := sc.Err(); err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return r, err
		}
		return r, &InvalidArchiveError{Path: path, Reason: scanReason(err), Err: err}
	}
	h := sc.Header()
	if !h.HasMessages {
		return r, &InvalidArchiveError{Path: path, Reason: `no "messages" array`}
	}
	r.ChannelID = h.ChannelID
	r.Messages = len(ids)
	r.MaxID = strconv.FormatUint(max, 10)
	if h.HasMessageCount {
		r.MessageCount = h.MessageCount
	}
	problem := func(format string, args ...any) { r.Problems = append(r.Problems, fmt.Sprintf(format, args...)) }
	nameID := ChannelIDFromName(path)
	switch {
	case h.ChannelID == "":
		problem("no channel.id")
	case nameID == "":
		problem("the file name does not end in [<channel id>].json")
	case nameID != h.ChannelID:
		problem("channel.id is %s but the file name says %s", h.ChannelID, nameID)
	}
	if !h.HasMessageCount {
		problem("no messageCount")
	} else if h.MessageCount != int64(len(ids)) {
		problem("messageCount is %d but the archive holds %d messages", h.MessageCount, len(ids))
	}
	if r.OutOfOrder > 0 {
		problem("%d message(s) out of id order", r.OutOfOrder)
	}
	slices.Sort(ids)
	for i := 1; i < len(ids); i++ {
		if ids[i] == ids[i-1] {
			r.Duplicates++
		}
	}
	if r.Duplicates > 0 {
		problem("%d duplicate message id(s)", r.Duplicates)
	}
	return r, nil
}
