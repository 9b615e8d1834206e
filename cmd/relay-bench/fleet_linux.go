//go:build linux

package main

import (
	"runtime"
	"time"
)

// kind is a bot's transport.
type kind uint8

const (
	kindKCP  kind = iota // KCP over UDP (bots_linux.go)
	kindWS               // WebSocket over TCP (wsbots_linux.go)
	numKinds             // the number of kinds
)

var kindNames = [numKinds]string{"kcp", "ws"}

func (k kind) String() string { return kindNames[k] }

// kindOf is the transport of bot number i: -transport kcp or ws makes
// every bot one kind; mixed alternates them, so rooms of an even size hold
// as many of each.
func (c *config) kindOf(i int) kind {
	switch c.transport {
	case "ws":
		return kindWS
	case "mixed":
		return kind(i % 2)
	}
	return kindKCP
}

// spacing is the time between two bots' connections, in ns.
func (c *config) spacing() int64 { return int64(time.Second) / int64(c.ramp) }

type member struct {
	index int
	kind  kind
}

// roomPlan is one room's bots, in connection order; rm is nil in lobby
// mode (-room-size 0), where each plan is one bot.
type roomPlan struct {
	rm      *room
	members []member
}

func (p *roomPlan) count(k kind) int {
	n := 0
	for _, m := range p.members {
		if m.kind == k {
			n++
		}
	}
	return n
}

// planRooms puts bots r*size .. (r+1)*size-1 in room r.
func planRooms(c *config) []roomPlan {
	size := c.roomSize
	if size <= 0 {
		size = 1
	}
	var plans []roomPlan
	for first := 0; first < c.players; first += size {
		p := roomPlan{}
		if c.roomSize > 0 {
			p.rm = &room{ready: make(chan struct{})}
		}
		for i := first; i < min(first+size, c.players); i++ {
			p.members = append(p.members, member{index: i, kind: c.kindOf(i)})
		}
		plans = append(plans, p)
	}
	return plans
}

// fleet is every bot of a run: the KCP bots' workers and the WebSocket
// bots, in the same rooms, under one control (phase, join count).
type fleet struct {
	ctl *control
	kcp *botSet // nil: no KCP bots
	ws  *wsSet  // nil: no WebSocket bots
	// procs is GOMAXPROCS while the bots run, for the report.
	procs int
}

func newFleet(c *config, t *target) (*fleet, error) {
	f := &fleet{ctl: &control{total: int64(c.players), settledC: make(chan struct{})}}
	plans := planRooms(c)
	var err error
	if f.kcp, err = newBotSet(c, t.addr, f.ctl, plans); err != nil {
		return nil, err
	}
	f.ws = newWSSet(c, t.wsURL, f.ctl, plans)
	return f, nil
}

func (f *fleet) start() {
	f.procs = runtime.GOMAXPROCS(0)
	if f.kcp != nil {
		f.kcp.start()
	}
	if f.ws != nil {
		f.ws.start()
	}
}

func (f *fleet) setPhase(p phase) {
	f.ctl.phase.Store(int32(p))
	if f.ws != nil {
		f.ws.phaseChanged(p)
	}
}

// stop ends every bot and waits for them.
func (f *fleet) stop() error {
	f.setPhase(phaseStop)
	var err error
	if f.kcp != nil {
		err = f.kcp.stop()
	}
	if f.ws != nil {
		f.ws.stop()
	}
	return err
}

// byeDone lists what closes when each part's bots are done saying bye.
func (f *fleet) byeDone() []<-chan struct{} {
	var cs []<-chan struct{}
	if f.kcp != nil {
		for _, w := range f.kcp.workers {
			cs = append(cs, w.byeDone)
		}
	}
	if f.ws != nil {
		cs = append(cs, f.ws.byeDone)
	}
	return cs
}

// fleetStats is the bots' statistics by transport.
type fleetStats [numKinds]workerStats

// total merges both transports' statistics.
func (s *fleetStats) total() workerStats {
	out := newWorkerStats()
	for k := range s {
		out.add(&s[k])
	}
	return out
}

// snapshot reads every bot's statistics; wire adds the WebSocket bots'
// TCP counters (a system call per bot: for the window's ends only).
func (f *fleet) snapshot(wire bool) fleetStats {
	var s fleetStats
	s[kindKCP], s[kindWS] = newWorkerStats(), newWorkerStats()
	if f.kcp != nil {
		s[kindKCP] = f.kcp.snapshot()
	}
	if f.ws != nil {
		s[kindWS] = f.ws.snapshot(wire)
	}
	return s
}

// takeRecent merges and clears the since-last-progress-line histograms.
func (f *fleet) takeRecent() hist {
	var h hist
	if f.kcp != nil {
		h = f.kcp.takeRecent()
	}
	if f.ws != nil {
		w := f.ws.takeRecent()
		h.merge(&w)
	}
	return h
}

// kcpWorkerCPU is the CPU time of the KCP workers' threads so far.
func (f *fleet) kcpWorkerCPU() time.Duration {
	if f.kcp == nil {
		return 0
	}
	return f.kcp.workerCPU()
}

// kcpPorts are the KCP bots' UDP ports, for their socket drops.
func (f *fleet) kcpPorts() map[int]bool {
	if f.kcp == nil {
		return nil
	}
	return f.kcp.ports
}

func (f *fleet) workers() int {
	if f.kcp == nil {
		return 0
	}
	return len(f.kcp.workers)
}

// close releases what a fleet that never started holds.
func (f *fleet) close() {
	if f.kcp != nil {
		f.kcp.close()
	}
}
