//go:build linux

// Command relay-bench loads a relay with bots over loopback and reports
// what clients and the server saw: join time, state latency between bots,
// frame jitter, bytes on the wire, and the server's CPU, memory, tick
// timing and scheduling. See BENCHMARKS.md for the scenario and results.
//
// It drives a running relay (-addr, with -stats-url and -pid for the
// server's own figures) or starts one in-process (-embedded). Bots speak
// KCP over UDP, WebSocket over TCP, or both in the same rooms
// (-transport), and every figure a transport has is reported per
// transport. Traffic goes only to 127.0.0.0/8: any other address is
// refused. Each bot sends from its own address in 127.1.0.0/16, so the
// relay's per-IP limits see one player per address, as on the internet.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"os"
	"os/signal"
	"runtime"
	"runtime/pprof"
	"strings"
	"syscall"
	"time"

	kcp "github.com/xtaci/kcp-go/v5"

	"github.com/tickrelay/tickrelay/relay"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout, os.Stderr); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return
		}
		fmt.Fprintln(os.Stderr, "relay-bench:", err)
		os.Exit(1)
	}
}

type config struct {
	addr        string
	statsURL    string
	pid         int
	embedded    bool
	tickRate    int
	players     int
	roomSize    int
	stateBytes  int
	rate        int
	duration    time.Duration
	warmup      time.Duration
	joinTimeout time.Duration
	progress    time.Duration
	ramp        int
	workers     int
	joinByCode  bool
	holdAcks    bool
	onFrame     bool
	pollHz      int
	json        bool
	cpuProfile  string
	transport   string // kcp, ws or mixed
	wsDefer     bool
	wsAddr      string
	wsPath      string
}

func parse(args []string, stderr io.Writer) (*config, error) {
	c := &config{}
	fs := flag.NewFlagSet("relay-bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&c.addr, "addr", "127.0.0.1:7777", "relay to load (host:port on 127.0.0.0/8)")
	fs.StringVar(&c.transport, "transport", "kcp", "the bots' transport: kcp (UDP), ws (WebSocket over TCP), or mixed (every other bot of each room on WebSocket)")
	fs.StringVar(&c.wsAddr, "ws-addr", "", "the relay's WebSocket address (host:port on 127.0.0.0/8); empty: the port of -addr, as the relay serves by default")
	fs.StringVar(&c.wsPath, "ws-path", "/", "URL path of the relay's WebSocket endpoint")
	fs.BoolVar(&c.wsDefer, "ws-defer", false, "with -state-on-frame: WebSocket bots answer a frame at the poll after the one that read it, as the KCP bots do; default: at the poll that read it, as the Godot client's WebSocket link does (it has no acks to wait for)")
	fs.StringVar(&c.statsURL, "stats-url", "", "the relay's /stats URL (e.g. http://127.0.0.1:9100/stats), for tick and frame figures")
	fs.IntVar(&c.pid, "pid", 0, "the relay's process id, for its CPU time, memory and socket")
	fs.BoolVar(&c.embedded, "embedded", false, "start a relay in this process instead of using -addr (the bots then share its CPU)")
	fs.IntVar(&c.tickRate, "tick-rate", 30, "tick rate of the embedded relay")
	fs.IntVar(&c.players, "players", 64, "bots to connect")
	fs.IntVar(&c.roomSize, "room-size", 8, "bots per room; 0 keeps every bot in the lobby (connected, no room)")
	fs.IntVar(&c.stateBytes, "state-bytes", 64, "encoded size of each state value (at least 10: it carries the send time)")
	fs.IntVar(&c.rate, "rate", 30, "states each bot sets per second; 0 for idle players")
	fs.DurationVar(&c.duration, "duration", 10*time.Second, "measured time")
	fs.DurationVar(&c.warmup, "warmup", 2*time.Second, "time at full load before measuring")
	fs.DurationVar(&c.joinTimeout, "join-timeout", 0, "how long joining may take before the run goes on without the stragglers (default 30 s + players/ramp)")
	fs.DurationVar(&c.progress, "progress", time.Second, "interval of progress lines on stderr; 0: none")
	fs.IntVar(&c.ramp, "ramp", 1000, "bots connecting per second")
	fs.IntVar(&c.workers, "workers", runtime.GOMAXPROCS(0), "worker threads running the KCP bots (WebSocket bots have goroutines of their own)")
	fs.BoolVar(&c.joinByCode, "join-by-code", false, "join rooms by code instead of by id")
	fs.BoolVar(&c.onFrame, "state-on-frame", true, "bots send their state with the acks of each frame, as the Godot client does by default (when -rate is the tick rate); false: on a timer, spread over the period")
	fs.IntVar(&c.pollHz, "poll-hz", 60, "with -state-on-frame: how often the modelled game polls its client; a frame is answered at the poll after the one that read it when polls are at most 0.55 of a tick apart (the Godot client's coalesce_sends), else at that poll; 0: at once")
	fs.BoolVar(&c.holdAcks, "hold-acks", false, "bots hold acknowledgements for their next state (at most a tick) instead of sending them at once as kcp-go does")
	fs.BoolVar(&c.json, "json", false, "print the summary as JSON on stdout (and the human one on stderr)")
	fs.StringVar(&c.cpuProfile, "cpuprofile", "", "write this process's CPU profile of the measured window to this file")
	fs.Usage = func() {
		fmt.Fprintf(stderr, "Usage: relay-bench [flags]\n\nLoads a relay with bots over loopback and reports latency, bandwidth and server cost.\n\nFlags:\n")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	switch {
	case c.players < 1:
		return nil, errors.New("-players must be at least 1")
	case c.roomSize < 0 || c.roomSize > 64:
		return nil, errors.New("-room-size must be 0..64")
	case c.stateBytes < 10 || c.stateBytes > 65535:
		return nil, errors.New("-state-bytes must be 10..65535")
	case c.rate < 0 || c.rate > 1000:
		return nil, errors.New("-rate must be 0..1000")
	case c.duration <= 0 || c.warmup < 0:
		return nil, errors.New("-duration must be positive and -warmup not negative")
	case c.pollHz < 0 || c.pollHz > 1000:
		return nil, errors.New("-poll-hz must be 0..1000")
	case c.ramp < 1:
		return nil, errors.New("-ramp must be at least 1")
	case c.workers < 1:
		return nil, errors.New("-workers must be at least 1")
	case c.embedded && (c.statsURL != "" || c.pid != 0):
		return nil, errors.New("-embedded measures its own server: -stats-url and -pid are for an external one")
	case c.transport != "kcp" && c.transport != "ws" && c.transport != "mixed":
		return nil, fmt.Errorf("-transport %q: want kcp, ws or mixed", c.transport)
	case !strings.HasPrefix(c.wsPath, "/"):
		return nil, errors.New("-ws-path must start with /")
	}
	if c.joinTimeout <= 0 {
		c.joinTimeout = 30*time.Second + time.Duration(c.players)*time.Second/time.Duration(c.ramp)
	}
	return c, nil
}

// statesOnFrames reports whether bots answer each frame with their state
// (-state-on-frame), which needs a state per tick.
func (c *config) statesOnFrames(tickRate int) bool {
	return c.onFrame && c.rate > 0 && c.rate == tickRate
}

// loopbackAddr resolves host:port and refuses anything outside
// 127.0.0.0/8: this tool floods its target, and must never be pointed at
// another machine.
func loopbackAddr(hostport string) (netip.AddrPort, error) {
	ua, err := net.ResolveUDPAddr("udp4", hostport)
	if err != nil {
		return netip.AddrPort{}, err
	}
	ap := ua.AddrPort()
	a := ap.Addr().Unmap()
	if !a.Is4() || a.As4()[0] != 127 {
		return netip.AddrPort{}, fmt.Errorf("%s is not on 127.0.0.0/8: relay-bench only sends to loopback", hostport)
	}
	return netip.AddrPortFrom(a, ap.Port()), nil
}

// target is the relay under load and how to read its figures.
type target struct {
	addr     netip.AddrPort
	wsURL    string                      // ws://host:port/path; empty without WebSocket bots
	stats    func() (relay.Stats, error) // nil: unknown
	pid      int                         // 0: unknown
	shutdown func()
}

func startTarget(c *config) (*target, error) {
	if c.embedded {
		pc, err := relay.Listen("127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		var ln net.Listener
		if c.transport != "kcp" {
			if ln, err = net.Listen("tcp4", "127.0.0.1:0"); err != nil {
				pc.Close()
				return nil, err
			}
		}
		srv := &relay.Server{
			TickRate:          c.tickRate,
			MaxPlayersPerRoom: max(16, c.roomSize),
			MaxSessions:       max(10000, c.players+16),
			MaxRooms:          max(10000, c.players),
			NewSessionRate:    float64(max(200, 2*c.ramp)),
		}
		done := make(chan error, 2)
		go func() { done <- srv.Serve(pc) }()
		t := &target{
			addr:  pc.LocalAddr().(*net.UDPAddr).AddrPort(),
			stats: func() (relay.Stats, error) { return srv.Stats(), nil },
			pid:   os.Getpid(),
		}
		if ln != nil {
			go func() { done <- srv.ServeWebSocket(ln) }()
			t.wsURL = "ws://" + ln.Addr().String() + c.wsPath
		}
		t.shutdown = func() {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			_ = srv.Shutdown(ctx)
			<-done
			if ln != nil {
				<-done
			}
		}
		return t, nil
	}
	addr, err := loopbackAddr(c.addr)
	if err != nil {
		return nil, err
	}
	t := &target{addr: addr, pid: c.pid, shutdown: func() {}}
	if c.transport != "kcp" {
		wa := c.wsAddr
		if wa == "" {
			wa = c.addr
		}
		ap, err := loopbackAddr(wa)
		if err != nil {
			return nil, fmt.Errorf("-ws-addr: %w", err)
		}
		t.wsURL = "ws://" + ap.String() + c.wsPath
	}
	if c.statsURL != "" {
		u, err := url.Parse(c.statsURL)
		if err != nil {
			return nil, err
		}
		if _, err := loopbackAddr(net.JoinHostPort(u.Hostname(), "0")); err != nil {
			return nil, fmt.Errorf("-stats-url: %w", err)
		}
		hc := &http.Client{Timeout: 2 * time.Second}
		t.stats = func() (relay.Stats, error) {
			var s relay.Stats
			resp, err := hc.Get(c.statsURL)
			if err != nil {
				return s, err
			}
			defer resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				return s, fmt.Errorf("%s: %s", c.statsURL, resp.Status)
			}
			return s, json.NewDecoder(resp.Body).Decode(&s)
		}
		if _, err := t.stats(); err != nil {
			return nil, fmt.Errorf("-stats-url: %w", err)
		}
	}
	if c.pid != 0 {
		if _, err := procCPU(c.pid); err != nil {
			return nil, fmt.Errorf("-pid: %w", err)
		}
	}
	return t, nil
}

// sample is everything read at one end of the measured window.
type sample struct {
	at          time.Time
	bots        workerStats // both transports
	byKind      fleetStats
	server      relay.Stats
	serverErr   error
	serverCPU   time.Duration
	serverSched schedInfo
	selfSched   schedInfo
	selfCPU     time.Duration
	workerCPU   time.Duration
	serverDrops uint64
	botDrops    uint64
	kcp         *kcp.Snmp // kcp-go's process-wide counters: the bots' (and an embedded relay's)
}

func takeSample(t *target, set *fleet) sample {
	s := sample{at: time.Now(), byKind: set.snapshot(true), selfCPU: selfCPU(), workerCPU: set.kcpWorkerCPU(), kcp: kcp.DefaultSnmp.Copy()}
	s.bots = s.byKind.total()
	if t.stats != nil {
		s.server, s.serverErr = t.stats()
	}
	if t.pid != 0 {
		s.serverCPU, _ = procCPU(t.pid)
		s.serverSched, _ = procSched(t.pid)
	}
	s.selfSched, _ = procSched(os.Getpid())
	s.serverDrops, _ = udpDrops(map[int]bool{int(t.addr.Port()): true})
	if ports := set.kcpPorts(); ports != nil {
		s.botDrops, _ = udpDrops(ports)
	}
	return s
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	c, err := parse(args, stderr)
	if err != nil {
		return err
	}
	t, err := startTarget(c)
	if err != nil {
		return err
	}
	defer t.shutdown()

	var rssBefore int64
	if t.pid != 0 {
		rssBefore, _ = procRSS(t.pid)
	}
	set, err := newFleet(c, t)
	if err != nil {
		return err
	}
	started := time.Now()
	set.start()
	stopped := false
	defer func() {
		if !stopped {
			_ = set.stop()
		}
	}()

	progressDone := make(chan struct{})
	progressStop := make(chan struct{})
	go func() {
		defer close(progressDone)
		progress(c, set, started, progressStop, stderr)
	}()

	interrupted := false
	wait := func(d time.Duration, early <-chan struct{}) {
		tm := time.NewTimer(d)
		defer tm.Stop()
		select {
		case <-tm.C:
		case <-early:
		case <-ctx.Done():
			interrupted = true
		}
	}
	wait(c.joinTimeout, set.ctl.settledC)
	joinTook := time.Since(started)
	set.setPhase(phaseWarmup)
	if !interrupted {
		wait(c.warmup, nil)
	}
	set.setPhase(phaseMeasure)
	if c.cpuProfile != "" {
		f, err := os.Create(c.cpuProfile)
		if err != nil {
			return err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
	}
	begin := takeSample(t, set)
	if !interrupted {
		wait(c.duration, nil)
	}
	end := takeSample(t, set)
	if c.cpuProfile != "" {
		pprof.StopCPUProfile()
	}
	set.setPhase(phaseBye)
	var rssEnd, selfRSS int64
	if t.pid != 0 {
		rssEnd, _ = procRSS(t.pid)
	}
	selfRSS, _ = procRSS(os.Getpid())

	close(progressStop)
	<-progressDone
	// Say bye so the server's close reasons show clean exits; a server
	// that does not answer within the linger is not waited for.
	linger := time.NewTimer(2 * time.Second)
	for _, done := range set.byeDone() {
		select {
		case <-done:
		case <-linger.C:
		}
	}
	linger.Stop()
	stopped = true
	if err := set.stop(); err != nil {
		return err
	}
	afterBye := set.snapshot(false)

	rep := buildReport(c, t, set, begin, end, afterBye, joinTook, rssBefore, rssEnd, selfRSS)
	rep.Interrupted = interrupted
	if c.json {
		rep.print(stderr) // for the human watching; stdout stays machine-readable
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(rep)
	}
	rep.print(stdout)
	return nil
}

func progress(c *config, set *fleet, started time.Time, stop <-chan struct{}, out io.Writer) {
	if c.progress <= 0 {
		<-stop
		return
	}
	tk := time.NewTicker(c.progress)
	defer tk.Stop()
	prevAll := set.snapshot(false)
	prev, prevAt := prevAll.total(), time.Now()
	names := [...]string{"join", "warmup", "measure", "bye", "stop"}
	for {
		select {
		case <-stop:
			return
		case <-tk.C:
		}
		now := time.Now()
		curAll := set.snapshot(false)
		cur := curAll.total()
		recent := set.takeRecent()
		dt := now.Sub(prevAt).Seconds()
		so := &cur.latAll
		if cur.lat.n > 0 {
			so = &cur.lat
		}
		fmt.Fprintf(out, "t=%4.0fs %-7s ccu=%d failed=%d states/s=%.0f frames/s=%.0f lat_p99(last)=%s lat_p99(so far)=%s\n",
			now.Sub(started).Seconds(), names[set.ctl.phase.Load()], cur.inRoom, cur.failed,
			float64(cur.c.StatesSent-prev.c.StatesSent)/dt, float64(cur.c.Frames-prev.c.Frames)/dt,
			ms(recent.quantile(0.99)), ms(so.quantile(0.99)))
		prev, prevAt = cur, now
	}
}

func ms(d time.Duration) string { return fmt.Sprintf("%.2fms", float64(d)/1e6) }
