package engine

import (
	"fmt"
	"strings"
)

// ChannelsFailedError: the run finished but one or more channels failed;
// every other channel was committed. Exit code 7.
type ChannelsFailedError struct {
	Channels []string // "target/channel id: reason"
}

func (e *ChannelsFailedError) Error() string {
	return fmt.Sprintf("%d channel(s) failed: %s", len(e.Channels), strings.Join(e.Channels, "; "))
}
