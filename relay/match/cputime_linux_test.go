package match

import "golang.org/x/sys/unix"

// threadCPU returns the CPU time the calling thread has used. On a shared
// machine a Step's CPU time, unlike its wall time, does not count the
// time other processes held the core; the caller locks its goroutine to
// its thread.
func threadCPU() int64 {
	var ts unix.Timespec
	if err := unix.ClockGettime(unix.CLOCK_THREAD_CPUTIME_ID, &ts); err != nil {
		panic(err)
	}
	return ts.Nano()
}
