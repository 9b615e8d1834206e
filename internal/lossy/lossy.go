// Package lossy is a UDP proxy that impairs the path between clients and one
// upstream server, so that tests can check a reliable protocol over loss,
// duplication, reordering, delay, jitter and a bandwidth cap on loopback.
//
// Each client source address gets its own upstream socket, so the server sees
// as many distinct peers as there are clients, as it would on a real network.
// All delayed datagrams share one scheduler (a heap and one timer), so a slow
// path with thousands of datagrams in flight costs no goroutine per datagram.
package lossy

import (
	"container/heap"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"sync"
	"time"
)

// Link describes the impairments of one direction.
type Link struct {
	// Drop is the probability that a datagram is discarded.
	Drop float64
	// Duplicate is the probability that a datagram is delivered twice.
	Duplicate float64
	// Reorder is the probability that a datagram is held back and released
	// right after the next datagram of the same client in this direction.
	// If no next datagram comes within ReorderHold, it is released then.
	Reorder float64
	// ReorderHold bounds how long a held datagram waits beyond its own
	// delay; default 50 ms.
	ReorderHold time.Duration
	// Delay is added to every datagram; Jitter adds a uniform random
	// [-Jitter, +Jitter] to it (the total never goes below zero). As on a
	// real path, jitter larger than the gap between datagrams reorders them.
	Delay  time.Duration
	Jitter time.Duration
	// Bandwidth caps the direction (all clients together) in bytes per
	// second with a token bucket; datagrams beyond it are dropped. 0 means
	// no cap.
	Bandwidth int
	// Burst is the token bucket's size in bytes; default Bandwidth/10, at
	// least 1500.
	Burst int
}

// Config configures a Proxy.
type Config struct {
	// Upstream is the server address, e.g. "127.0.0.1:7777".
	Upstream string
	// ToServer and ToClient impair each direction.
	ToServer Link
	ToClient Link
	// Seed makes the random choices repeatable: each direction draws from
	// its own generator, so for a given order of arrivals in a direction the
	// same datagrams are dropped, duplicated and delayed.
	Seed uint64
	// MaxClients bounds the upstream sockets the proxy opens; datagrams
	// from further source addresses are dropped. Default 64.
	MaxClients int
}

// Direction selects one side's counters.
type Direction int

const (
	// ToServer is client -> upstream.
	ToServer Direction = iota
	// ToClient is upstream -> client.
	ToClient
)

// Stats counts what happened to the datagrams of one direction.
type Stats struct {
	Received      uint64 // datagrams read
	Forwarded     uint64 // datagrams written (a duplicate counts twice)
	Dropped       uint64 // discarded by the Drop probability
	OverBandwidth uint64 // discarded by the bandwidth cap
	Duplicated    uint64 // extra copies written
	Reordered     uint64 // datagrams released after a later one
	Delayed       uint64 // datagrams that went through the scheduler
	WriteErrors   uint64
}

// Proxy forwards datagrams between clients and one upstream address.
type Proxy struct {
	ln       *net.UDPConn
	upstream *net.UDPAddr
	cfg      Config

	mu      sync.Mutex
	closed  bool
	clients map[string]*client
	dirs    [2]dirState
	sched   packetHeap
	seq     uint64
	wake    chan struct{}
	done    chan struct{}

	closeOnce sync.Once
	wg        sync.WaitGroup
}

type dirState struct {
	link    Link
	rng     *rand.Rand
	stats   Stats
	tokens  float64
	lastFil time.Time
}

type client struct {
	addr *net.UDPAddr
	up   *net.UDPConn
	held [2]*packet // datagram held for reordering, per direction
}

type packet struct {
	dir  Direction
	c    *client
	data []byte
	// holdCheck marks a scheduler entry that releases c.held[dir] if it is
	// still this packet when the hold time is over.
	holdCheck *packet
	at        time.Time
	seq       uint64
}

// New starts a proxy listening on 127.0.0.1 at a free port.
func New(cfg Config) (*Proxy, error) {
	up, err := net.ResolveUDPAddr("udp", cfg.Upstream)
	if err != nil {
		return nil, fmt.Errorf("lossy: upstream: %w", err)
	}
	ln, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		return nil, fmt.Errorf("lossy: listen: %w", err)
	}
	// Best effort (capped by net.core.rmem_max): bursts from many clients
	// should be impaired by the configuration, not by the kernel.
	_ = ln.SetReadBuffer(4 << 20)
	if cfg.MaxClients <= 0 {
		cfg.MaxClients = 64
	}
	p := &Proxy{
		ln:       ln,
		upstream: up,
		cfg:      cfg,
		clients:  make(map[string]*client),
		wake:     make(chan struct{}, 1),
		done:     make(chan struct{}),
	}
	now := time.Now()
	for i, l := range []Link{cfg.ToServer, cfg.ToClient} {
		if l.ReorderHold <= 0 {
			l.ReorderHold = 50 * time.Millisecond
		}
		if l.Bandwidth > 0 && l.Burst <= 0 {
			l.Burst = max(l.Bandwidth/10, 1500)
		}
		p.dirs[i] = dirState{
			link:    l,
			rng:     rand.New(rand.NewPCG(cfg.Seed, uint64(i)+0x9e3779b97f4a7c15)),
			tokens:  float64(l.Burst),
			lastFil: now,
		}
	}
	p.wg.Add(2)
	go p.readClients()
	go p.runScheduler()
	return p, nil
}

// Addr is the address clients send to.
func (p *Proxy) Addr() *net.UDPAddr { return p.ln.LocalAddr().(*net.UDPAddr) }

// Stats returns a snapshot of one direction's counters.
func (p *Proxy) Stats(d Direction) Stats {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.dirs[d].stats
}

// Clients is the number of client addresses seen.
func (p *Proxy) Clients() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.clients)
}

// Close stops the proxy, discards datagrams still delayed or held, and waits
// for all its goroutines.
func (p *Proxy) Close() error {
	var err error
	p.closeOnce.Do(func() {
		p.mu.Lock()
		p.closed = true
		ups := make([]*net.UDPConn, 0, len(p.clients))
		for _, c := range p.clients {
			ups = append(ups, c.up)
		}
		p.sched = nil
		p.mu.Unlock()
		close(p.done)
		err = p.ln.Close()
		for _, u := range ups {
			_ = u.Close()
		}
		p.wg.Wait()
	})
	return err
}

func (p *Proxy) readClients() {
	defer p.wg.Done()
	buf := make([]byte, 65536)
	for {
		n, addr, err := p.ln.ReadFromUDP(buf)
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			continue // e.g. ICMP-induced errors: the socket still works
		}
		c := p.clientFor(addr)
		if c == nil {
			continue
		}
		p.handle(ToServer, c, append([]byte(nil), buf[:n]...))
	}
}

// clientFor returns the client of addr, opening its upstream socket on first
// sight; nil when closed or full.
func (p *Proxy) clientFor(addr *net.UDPAddr) *client {
	key := addr.String()
	p.mu.Lock()
	defer p.mu.Unlock()
	if c, ok := p.clients[key]; ok {
		return c
	}
	if p.closed || len(p.clients) >= p.cfg.MaxClients {
		return nil
	}
	up, err := net.DialUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)}, p.upstream)
	if err != nil {
		return nil
	}
	_ = up.SetReadBuffer(1 << 20)
	c := &client{addr: addr, up: up}
	p.clients[key] = c
	p.wg.Add(1)
	go p.readUpstream(c)
	return c
}

func (p *Proxy) readUpstream(c *client) {
	defer p.wg.Done()
	buf := make([]byte, 65536)
	for {
		n, err := c.up.Read(buf)
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			// A connected UDP socket reports ICMP port unreachable (server
			// not up yet) as a read error; keep reading.
			continue
		}
		p.handle(ToClient, c, append([]byte(nil), buf[:n]...))
	}
}

// handle applies the direction's impairments to one datagram.
func (p *Proxy) handle(dir Direction, c *client, data []byte) {
	now := time.Now()
	var immediate []*packet
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return
	}
	d := &p.dirs[dir]
	l := &d.link
	d.stats.Received++
	if l.Drop > 0 && d.rng.Float64() < l.Drop {
		d.stats.Dropped++
		p.mu.Unlock()
		return
	}
	copies := 1
	if l.Duplicate > 0 && d.rng.Float64() < l.Duplicate {
		copies = 2
	}
	if l.Bandwidth > 0 {
		d.tokens += now.Sub(d.lastFil).Seconds() * float64(l.Bandwidth)
		d.tokens = min(d.tokens, float64(l.Burst))
		d.lastFil = now
		allowed := 0
		for range copies {
			if d.tokens >= float64(len(data)) {
				d.tokens -= float64(len(data))
				allowed++
			} else {
				d.stats.OverBandwidth++
			}
		}
		copies = allowed
		if copies == 0 {
			p.mu.Unlock()
			return
		}
	}
	if copies == 2 {
		d.stats.Duplicated++
	}
	delay := l.Delay
	if l.Jitter > 0 {
		delay += time.Duration(d.rng.Int64N(int64(2*l.Jitter)+1)) - l.Jitter
		delay = max(delay, 0)
	}
	at := now.Add(delay)
	pk := &packet{dir: dir, c: c, data: data, at: at}

	if held := c.held[dir]; held != nil {
		// Release the held datagram right behind this one.
		c.held[dir] = nil
		d.stats.Reordered++
		held.at = at
		immediate = p.place(immediate, pk, delay)
		for i := 1; i < copies; i++ {
			immediate = p.place(immediate, &packet{dir: dir, c: c, data: data, at: at}, delay)
		}
		immediate = p.place(immediate, held, delay)
	} else if l.Reorder > 0 && d.rng.Float64() < l.Reorder {
		c.held[dir] = pk
		for i := 1; i < copies; i++ {
			// The duplicate goes now: the original arrives after the next one.
			immediate = p.place(immediate, &packet{dir: dir, c: c, data: data, at: at}, delay)
		}
		p.push(&packet{dir: dir, c: c, holdCheck: pk, at: at.Add(l.ReorderHold)})
	} else {
		for i := 0; i < copies; i++ {
			immediate = p.place(immediate, &packet{dir: dir, c: c, data: data, at: at}, delay)
		}
	}
	p.mu.Unlock()
	p.write(immediate)
}

// place queues pk for writing as soon as p.mu is released (appending it to
// immediate, which keeps the order) or, when it has a delay, in the
// scheduler. Called with p.mu held.
func (p *Proxy) place(immediate []*packet, pk *packet, delay time.Duration) []*packet {
	if delay <= 0 {
		return append(immediate, pk)
	}
	p.dirs[pk.dir].stats.Delayed++
	p.push(pk)
	return immediate
}

// push adds an entry to the scheduler. Called with p.mu held.
func (p *Proxy) push(pk *packet) {
	p.seq++
	pk.seq = p.seq
	heap.Push(&p.sched, pk)
	if p.sched[0] == pk {
		select {
		case p.wake <- struct{}{}:
		default:
		}
	}
}

func (p *Proxy) write(pks []*packet) {
	for _, pk := range pks {
		var err error
		if pk.dir == ToServer {
			_, err = pk.c.up.Write(pk.data)
		} else {
			_, err = p.ln.WriteToUDP(pk.data, pk.c.addr)
		}
		p.mu.Lock()
		if err != nil {
			p.dirs[pk.dir].stats.WriteErrors++
		} else {
			p.dirs[pk.dir].stats.Forwarded++
		}
		p.mu.Unlock()
	}
}

func (p *Proxy) runScheduler() {
	defer p.wg.Done()
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	var due []*packet
	for {
		due = due[:0]
		p.mu.Lock()
		now := time.Now()
		for len(p.sched) > 0 && !p.sched[0].at.After(now) {
			pk := heap.Pop(&p.sched).(*packet)
			if pk.holdCheck != nil {
				held := pk.holdCheck
				if held.c.held[held.dir] != held {
					continue // already released behind a later datagram
				}
				held.c.held[held.dir] = nil
				pk = held
			}
			due = append(due, pk)
		}
		wait := time.Hour
		if len(p.sched) > 0 {
			wait = p.sched[0].at.Sub(now)
		}
		p.mu.Unlock()
		p.write(due)
		// Go 1.23+ timers: Reset discards any pending expiry, so no drain.
		timer.Reset(wait)
		select {
		case <-p.done:
			return
		case <-p.wake:
		case <-timer.C:
		}
	}
}

// packetHeap orders scheduler entries by time, then by insertion, so that
// datagrams due at the same instant leave in the order they were queued.
type packetHeap []*packet

func (h packetHeap) Len() int { return len(h) }
func (h packetHeap) Less(i, j int) bool {
	if h[i].at.Equal(h[j].at) {
		return h[i].seq < h[j].seq
	}
	return h[i].at.Before(h[j].at)
}
func (h packetHeap) Swap(i, j int) { h[i], h[j] = h[j], h[i] }
func (h *packetHeap) Push(x any)   { *h = append(*h, x.(*packet)) }
func (h *packetHeap) Pop() any {
	old := *h
	n := len(old)
	pk := old[n-1]
	old[n-1] = nil
	*h = old[:n-1]
	return pk
}
