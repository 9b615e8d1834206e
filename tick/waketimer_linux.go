package tick

import (
	"os"
	"time"

	"golang.org/x/sys/unix"
)

// wakeTimer is a timerfd registered with the runtime's netpoller and never
// read: arming it makes the kernel's high-resolution timer wake an idle
// netpoller on time. Without it, an idle process sleeps in epoll_wait with
// millisecond granularity and a runtime timer due in 0.3 ms fires up to a
// millisecond late.
type wakeTimer struct {
	f *os.File
}

func newWakeTimer() *wakeTimer {
	fd, err := unix.TimerfdCreate(unix.CLOCK_MONOTONIC, unix.TFD_NONBLOCK|unix.TFD_CLOEXEC)
	if err != nil {
		return nil // the runtime timer alone: late by up to 1 ms
	}
	// os.NewFile registers a non-blocking descriptor with the netpoller.
	return &wakeTimer{f: os.NewFile(uintptr(fd), "tick-timerfd")}
}

// arm sets the timer to expire once, d from now. Setting it also clears an
// earlier expiry, so each arm gives the edge-triggered netpoller one event.
func (w *wakeTimer) arm(d time.Duration) {
	if w == nil {
		return
	}
	spec := unix.ItimerSpec{Value: unix.NsecToTimespec(int64(max(d, time.Microsecond)))}
	_ = unix.TimerfdSettime(int(w.f.Fd()), 0, &spec, nil)
}

func (w *wakeTimer) close() {
	if w != nil {
		w.f.Close()
	}
}
