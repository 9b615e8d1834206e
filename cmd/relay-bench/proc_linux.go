package main

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// userHZ is the unit of utime and stime in /proc/PID/stat. It is part of
// the kernel's user ABI (USER_HZ), 100 on every Linux architecture Go
// supports, whatever the kernel's internal HZ.
const userHZ = 100

// procCPU returns the user+system CPU time of process pid.
func procCPU(pid int) (time.Duration, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	// The command name may hold spaces and parentheses: fields start after
	// the last ')'.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0, fmt.Errorf("/proc/%d/stat: unexpected format", pid)
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 13 {
		return 0, fmt.Errorf("/proc/%d/stat: unexpected format", pid)
	}
	ut, err1 := strconv.ParseInt(f[11], 10, 64)
	st, err2 := strconv.ParseInt(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		return 0, fmt.Errorf("/proc/%d/stat: unexpected format", pid)
	}
	return time.Duration(ut+st) * time.Second / userHZ, nil
}

// selfCPU is this process's user+system CPU time, at microsecond
// resolution (better than /proc's 10 ms ticks for short runs).
func selfCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// threadCPU returns the on-CPU time of one of this process's threads,
// from schedstat (nanoseconds) where the kernel has it, else from stat.
// The bots' workers are locked to their threads, so this separates the
// generator's own cost from the server's when both share the process.
func threadCPU(tid int) time.Duration {
	if b, err := os.ReadFile(fmt.Sprintf("/proc/self/task/%d/schedstat", tid)); err == nil {
		if f := strings.Fields(string(b)); len(f) > 0 {
			if ns, err := strconv.ParseInt(f[0], 10, 64); err == nil {
				return time.Duration(ns)
			}
		}
	}
	b, err := os.ReadFile(fmt.Sprintf("/proc/self/task/%d/stat", tid))
	if err != nil {
		return 0
	}
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 13 {
		return 0
	}
	ut, _ := strconv.ParseInt(f[11], 10, 64)
	st, _ := strconv.ParseInt(f[12], 10, 64)
	return time.Duration(ut+st) * time.Second / userHZ
}

// procRSS returns the resident set size of process pid in bytes.
func procRSS(pid int) (int64, error) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "VmRSS:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			if err != nil {
				return 0, err
			}
			return kb << 10, nil
		}
	}
	return 0, fmt.Errorf("/proc/%d/status: no VmRSS", pid)
}

// udpDrops sums the drops column of /proc/net/udp and /proc/net/udp6 over
// the sockets whose local port is in ports: datagrams the kernel discarded
// because the socket's receive buffer was full. It is a counter since each
// socket was created.
func udpDrops(ports map[int]bool) (uint64, error) {
	var total uint64
	found := false
	for _, path := range []string{"/proc/net/udp", "/proc/net/udp6"} {
		b, err := os.ReadFile(path)
		if err != nil {
			continue
		}
		found = true
		lines := strings.Split(string(b), "\n")
		for _, l := range lines[1:] {
			f := strings.Fields(l)
			if len(f) < 13 {
				continue
			}
			colon := strings.LastIndexByte(f[1], ':')
			if colon < 0 {
				continue
			}
			port, err := strconv.ParseInt(f[1][colon+1:], 16, 32)
			if err != nil || !ports[int(port)] {
				continue
			}
			d, err := strconv.ParseUint(f[len(f)-1], 10, 64)
			if err == nil {
				total += d
			}
		}
	}
	if !found {
		return 0, fmt.Errorf("no /proc/net/udp")
	}
	return total, nil
}

// schedInfo is how the kernel schedules a process. Another task on the
// server's core delays ticks by as long as it runs (BENCHMARKS.md, round
// 8), so a run's summary says what policy the server had and how often its
// threads were preempted.
type schedInfo struct {
	Policy   string // SCHED_OTHER, SCHED_RR, ...
	Priority int    // real-time priority (0 for SCHED_OTHER)
	Nice     int    // nice value (SCHED_OTHER)
	CPUs     string // CPUs the process may run on
	// Preempted sums the threads' involuntary context switches: by other
	// tasks and by the process's own threads alike (a thread that
	// blocks or sleeps switches voluntarily).
	Preempted uint64
}

var policyNames = map[int]string{0: "SCHED_OTHER", 1: "SCHED_FIFO", 2: "SCHED_RR", 3: "SCHED_BATCH", 5: "SCHED_IDLE", 6: "SCHED_DEADLINE"}

// procSched reads schedInfo for process pid from /proc. Preempted counts
// threads alive now, so the difference of two readings misses threads that
// exited in between (a Go server keeps its threads).
func procSched(pid int) (schedInfo, error) {
	var si schedInfo
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return si, err
	}
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return si, fmt.Errorf("/proc/%d/stat: unexpected format", pid)
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 39 {
		return si, fmt.Errorf("/proc/%d/stat: unexpected format", pid)
	}
	// Fields 19 (nice), 40 (rt_priority) and 41 (policy) of proc(5),
	// counted from field 3 here.
	si.Nice, _ = strconv.Atoi(f[16])
	si.Priority, _ = strconv.Atoi(f[37])
	policy, _ := strconv.Atoi(f[38])
	if si.Policy = policyNames[policy]; si.Policy == "" {
		si.Policy = fmt.Sprintf("policy %d", policy)
	}
	if v, ok := statusField(fmt.Sprintf("/proc/%d/status", pid), "Cpus_allowed_list:"); ok {
		si.CPUs = v
	}
	tasks, err := os.ReadDir(fmt.Sprintf("/proc/%d/task", pid))
	if err != nil {
		return si, err
	}
	for _, t := range tasks {
		v, _ := statusField(fmt.Sprintf("/proc/%d/task/%s/status", pid, t.Name()), "nonvoluntary_ctxt_switches:")
		n, _ := strconv.ParseUint(v, 10, 64)
		si.Preempted += n
	}
	return si, nil
}

// statusField returns the value of the line of a /proc status file that
// starts with key.
func statusField(path, key string) (string, bool) {
	b, err := os.ReadFile(path)
	if err != nil {
		return "", false
	}
	for l := range strings.Lines(string(b)) {
		if v, ok := strings.CutPrefix(l, key); ok {
			return strings.TrimSpace(v), true
		}
	}
	return "", false
}
