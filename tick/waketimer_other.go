//go:build !linux

package tick

import "time"

// wakeTimer is Linux only; elsewhere the runtime timer alone wakes the loop.
type wakeTimer struct{}

func newWakeTimer() *wakeTimer { return nil }

func (*wakeTimer) arm(time.Duration) {}

func (*wakeTimer) close() {}
