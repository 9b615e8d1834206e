//go:build !linux

package match

import "time"

var cpuEpoch = time.Now()

// threadCPU stands in for the thread's CPU time where it is not read:
// wall time.
func threadCPU() int64 { return int64(time.Since(cpuEpoch)) }
