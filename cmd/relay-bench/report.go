//go:build linux

package main

import (
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"time"
)

// Per-datagram and per-segment header sizes counted on the wire.
const (
	ipUDPHeader = 20 + 8 // IPv4 + UDP
	kcpHeader   = 24
)

type quantiles struct {
	P50     float64 `json:"p50_ms"`
	P99     float64 `json:"p99_ms"`
	Max     float64 `json:"max_ms"`
	Samples uint64  `json:"samples"`
}

func quantilesOf(h *hist) quantiles {
	f := func(d time.Duration) float64 { return float64(d) / 1e6 }
	return quantiles{P50: f(h.quantile(0.50)), P99: f(h.quantile(0.99)), Max: f(h.quantile(1)), Samples: h.n}
}

// direction is one way of traffic, per connected client per second.
type direction struct {
	// WireBytes: KCP, UDP payload + 28 bytes of UDP/IPv4 header per
	// datagram; WebSocket, TCP payload + 52 bytes of IPv4/TCP header
	// (with timestamps) per segment, pure acks included.
	WireBytes float64 `json:"wire_bytes"`
	Datagrams float64 `json:"datagrams"` // UDP datagrams; for WebSocket, TCP segments
	// PayloadBytes is protocol bytes: KCP, frames with their 4-byte
	// length prefix; WebSocket, message bodies (no prefix).
	PayloadBytes float64 `json:"payload_bytes"`
	Messages     float64 `json:"messages"` // KCP or WebSocket messages carrying them
	// Overhead is wire bytes over the least the payload could cost: each
	// message in its own packet, with one KCP and one UDP/IP header, or
	// with its WebSocket frame header and one TCP/IP header. What exceeds
	// 1 is acks, window probes, retransmissions and packets that were
	// not shared.
	Overhead float64 `json:"overhead"`
}

type serverReport struct {
	Shared           bool    `json:"shares_process_with_bots"` // -embedded: CPU and RSS include the bots
	CPUPerSec        float64 `json:"cpu_seconds_per_second"`
	CPUPerClientTick float64 `json:"cpu_us_per_client_tick"`
	ServerOnlyCPU    float64 `json:"cpu_seconds_per_second_without_bot_threads,omitempty"` // -embedded: process minus worker threads
	RSS              int64   `json:"rss_bytes"`
	RSSBefore        int64   `json:"rss_bytes_before_bots"`
	RSSPerClient     float64 `json:"rss_bytes_per_client"`
	TickRate         int     `json:"tick_rate"`
	Ticks            uint64  `json:"ticks"`
	Overruns         uint64  `json:"overruns"`
	Skipped          uint64  `json:"skipped"`
	Work             tickQ   `json:"tick_work"`
	Late             tickQ   `json:"tick_lateness"`
	// TickQuantiles says where Work and Late come from: "window" (the
	// difference of the relay's cumulative histograms over the measured
	// window; bucket upper bounds, at most 9% high) or, from a relay
	// without them, "last-4096" (its rolling percentiles, of which
	// WindowSamples fall in the window).
	TickQuantiles  string            `json:"tick_quantiles"`
	SummarySamples int               `json:"tick_summary_samples"`
	WindowSamples  uint64            `json:"tick_summary_samples_in_window"`
	FramesSent     uint64            `json:"frames_sent"`
	FramesHeldBack uint64            `json:"frames_held_back"`
	BytesOut       uint64            `json:"bytes_out"`
	MessagesIn     uint64            `json:"messages_in"`
	Closes         map[string]uint64 `json:"closes"`
	Players        int64             `json:"players"`
	Rooms          int64             `json:"rooms"`
	SocketDrops    uint64            `json:"socket_drops"`
	// Server datagrams sent, refused by its socket, and KCP segments sent
	// and resent (kcp-go counts per process: with -embedded, bots too).
	// Connections open at the window's end by transport, and what the
	// WebSocket transport wrote in the window.
	Connections   map[string]int `json:"connections_by_transport,omitempty"`
	WSMessagesOut uint64         `json:"ws_messages_out"`
	WSBytesOut    uint64         `json:"ws_bytes_out"`
	// WSRefused is WebSocket connections the relay refused during the
	// whole run (joining included), by reason.
	WSRefused     map[string]uint64 `json:"ws_refused,omitempty"`
	Datagrams     uint64            `json:"datagrams_sent"`
	SendRefused   uint64            `json:"send_refused"`
	KCPOutSegs    uint64            `json:"kcp_out_segs"`
	KCPRetrans    uint64            `json:"kcp_retrans_segs"`
	KCPFastResend uint64            `json:"kcp_fast_retrans_segs"`
	KCPLost       uint64            `json:"kcp_lost_segs"`
	StatsError    string            `json:"stats_error,omitempty"`
	Sched         *schedReport      `json:"scheduling,omitempty"` // with -pid
}

// schedReport is how the kernel scheduled a process over the window.
type schedReport struct {
	Policy   string `json:"policy"`
	Priority int    `json:"rt_priority"`
	Nice     int    `json:"nice"`
	CPUs     string `json:"cpus"`
	// Preempted is involuntary context switches per second, summed over
	// the threads: by other tasks and by the process's own threads alike.
	Preempted float64 `json:"preempted_per_second"`
}

func schedReportOf(begin, end schedInfo, secs float64) *schedReport {
	if end.Policy == "" || secs <= 0 {
		return nil
	}
	return &schedReport{
		Policy: end.Policy, Priority: end.Priority, Nice: end.Nice, CPUs: end.CPUs,
		Preempted: float64(end.Preempted-begin.Preempted) / secs,
	}
}

func (s *schedReport) String() string {
	prio := fmt.Sprintf("nice %d", s.Nice)
	if s.Policy == "SCHED_FIFO" || s.Policy == "SCHED_RR" {
		prio = fmt.Sprintf("priority %d", s.Priority)
	}
	return fmt.Sprintf("%s %s on CPUs %s; threads preempted %.1f times/s", s.Policy, prio, s.CPUs, s.Preempted)
}

type tickQ struct {
	P50 float64 `json:"p50_ms"`
	P99 float64 `json:"p99_ms"`
	Max float64 `json:"max_ms"`
}

type report struct {
	Mode        string  `json:"mode"`
	Transport   string  `json:"transport"` // kcp, ws or mixed
	Addr        string  `json:"addr"`
	Players     int     `json:"players"`
	RoomSize    int     `json:"room_size"`
	StateBytes  int     `json:"state_bytes"`
	Rate        int     `json:"rate"`
	Sending     string  `json:"state_sending"` // when states and acks go out
	Workers     int     `json:"workers"`
	Seconds     float64 `json:"measured_seconds"`
	JoinSeconds float64 `json:"join_phase_seconds"`
	Interrupted bool    `json:"interrupted,omitempty"`

	CCU     int       `json:"ccu"`
	Joined  uint64    `json:"joined"`
	Failed  int       `json:"failed"`
	Join    quantiles `json:"join_time"`
	Latency quantiles `json:"state_latency"` // state set -> receipt by another bot
	Jitter  quantiles `json:"frame_jitter"`  // |frame interval - tick period| at the bots
	RTT     quantiles `json:"ping_rtt"`      // ping round trip minus the server's hold

	Down          direction `json:"down"` // server -> bot
	Up            direction `json:"up"`   // bot -> server
	WireTotal     float64   `json:"wire_bytes_per_client_per_second"`
	OverheadTotal float64   `json:"overhead"`

	StatesSentPerSec float64 `json:"states_sent_per_second"`
	StatesRecvPerSec float64 `json:"state_entries_received_per_second"`
	FramesPerSec     float64 `json:"frames_received_per_second"`
	TickGaps         uint64  `json:"frames_missed"` // tick numbers missing between a bot's consecutive frames

	Server serverReport `json:"server"`

	GeneratorCPU       float64      `json:"generator_cpu_seconds_per_second"` // the bench process (with -embedded: server included)
	GeneratorWorkerCPU float64      `json:"generator_worker_cpu_seconds_per_second"`
	GeneratorRSS       int64        `json:"generator_rss_bytes"`
	GeneratorSched     *schedReport `json:"generator_scheduling,omitempty"`
	GeneratorProcs     int          `json:"generator_gomaxprocs"`

	// Transports has what the bots of each transport saw; the figures
	// above are over all bots.
	Transports map[string]*transportReport `json:"transports"`

	BotSocketDrops uint64 `json:"bot_socket_drops"`
	BotSendEAGAIN  uint64 `json:"bot_send_eagain"`
	BotSendErrors  uint64 `json:"bot_send_errors"`
	BotReadErrors  uint64 `json:"bot_read_errors"`
	BotSendBlocked uint64 `json:"bot_send_blocked"`
	ParseErrors    uint64 `json:"parse_errors"`
	KCPInputErrors uint64 `json:"kcp_input_errors"`
	// The bots' KCP segments sent and resent (external relay only: an
	// embedded one shares kcp-go's counters).
	BotSegs    uint64         `json:"bot_kcp_out_segs,omitempty"`
	BotResent  uint64         `json:"bot_kcp_retrans_segs,omitempty"`
	ClosesSeen map[string]int `json:"closes_seen_by_bots"` // during the whole run, bye included
	ErrorsSeen map[string]int `json:"errors_seen_by_bots"`
}

func buildReport(c *config, t *target, set *fleet, begin, end sample, finalByKind fleetStats, joinTook time.Duration, rssBefore, rssEnd, selfRSS int64) *report {
	final := finalByKind.total()
	secs := end.at.Sub(begin.at).Seconds()
	b, e := &begin.bots.c, &end.bots.c
	ccu := end.bots.inRoom
	r := &report{
		Mode: "external", Addr: t.addr.String(), Transport: c.transport, GeneratorProcs: set.procs,
		Players: c.players, RoomSize: c.roomSize, StateBytes: c.stateBytes, Rate: c.rate,
		Sending: sending(c, end.bots.tickRate), Seconds: secs, JoinSeconds: joinTook.Seconds(),
		CCU: ccu, Joined: end.bots.join.n, Failed: end.bots.failed,
		Join: quantilesOf(&end.bots.join), Latency: quantilesOf(&end.bots.lat),
		Jitter: quantilesOf(&end.bots.jitter), RTT: quantilesOf(&end.bots.rtt),
		TickGaps:       e.TickGaps - b.TickGaps,
		GeneratorRSS:   selfRSS,
		BotSocketDrops: end.botDrops - begin.botDrops,
		BotSendEAGAIN:  e.SendAgain - b.SendAgain,
		BotSendErrors:  e.SendErrs - b.SendErrs,
		BotReadErrors:  e.ReadErrs - b.ReadErrs,
		BotSendBlocked: e.SendBlocked - b.SendBlocked,
		ParseErrors:    final.c.ParseErrs,
		KCPInputErrors: final.c.KCPInputErrs,
		ClosesSeen:     final.closes,
		ErrorsSeen:     final.errors,
	}
	r.Workers = set.workers()
	if c.embedded {
		r.Mode = "embedded"
	}
	r.Down, r.Up, r.WireTotal, r.OverheadTotal = traffic(b, e, ccu, secs)
	if secs > 0 {
		r.StatesSentPerSec = float64(e.StatesSent-b.StatesSent) / secs
		r.StatesRecvPerSec = float64(e.StatesRecv-b.StatesRecv) / secs
		r.FramesPerSec = float64(e.Frames-b.Frames) / secs
		r.GeneratorCPU = (end.selfCPU - begin.selfCPU).Seconds() / secs
		r.GeneratorWorkerCPU = (end.workerCPU - begin.workerCPU).Seconds() / secs
	}
	r.GeneratorSched = schedReportOf(begin.selfSched, end.selfSched, secs)
	r.Transports = transportReports(c, set, begin, end, r)

	s := &r.Server
	s.Shared = c.embedded
	s.SocketDrops = end.serverDrops - begin.serverDrops
	s.RSS, s.RSSBefore = rssEnd, rssBefore
	if ccu > 0 && rssEnd > 0 {
		s.RSSPerClient = float64(rssEnd-rssBefore) / float64(ccu)
	}
	if t.stats != nil {
		if end.serverErr != nil || begin.serverErr != nil {
			s.StatsError = fmt.Sprint(errorsJoin(begin.serverErr, end.serverErr))
		}
		bs, es := &begin.server, &end.server
		s.Ticks = es.Tick.Ticks - bs.Tick.Ticks
		s.Overruns = es.Tick.Overruns - bs.Tick.Overruns
		s.Skipped = es.Tick.Skipped - bs.Tick.Skipped
		work, late := es.Tick.WorkHist.Sub(bs.Tick.WorkHist), es.Tick.LateHist.Sub(bs.Tick.LateHist)
		if work.Total() > 0 && work.Total() == s.Ticks {
			s.TickQuantiles = "window"
			s.Work = tickQOf(work.Quantile(0.5), work.Quantile(0.99), work.Quantile(1))
			s.Late = tickQOf(late.Quantile(0.5), late.Quantile(0.99), late.Quantile(1))
			s.SummarySamples, s.WindowSamples = int(s.Ticks), s.Ticks
		} else {
			s.TickQuantiles = "last-4096"
			s.Work = tickQOf(es.Tick.Work.P50, es.Tick.Work.P99, es.Tick.Work.Max)
			s.Late = tickQOf(es.Tick.Late.P50, es.Tick.Late.P99, es.Tick.Late.Max)
			s.SummarySamples = es.Tick.Work.Samples
			s.WindowSamples = min(s.Ticks, uint64(es.Tick.Work.Samples))
		}
		s.FramesSent = es.FramesSent - bs.FramesSent
		s.FramesHeldBack = es.FramesBehind - bs.FramesBehind
		s.BytesOut = es.BytesOut - bs.BytesOut
		s.MessagesIn = es.MessagesIn - bs.MessagesIn
		s.Closes = map[string]uint64{}
		for k, v := range es.Closes {
			if d := v - bs.Closes[k]; d > 0 {
				s.Closes[k] = d
			}
		}
		s.Players, s.Rooms = es.Players, es.Rooms
		s.Connections = es.Transports
		s.WSMessagesOut = es.WebSocket.MessagesOut - bs.WebSocket.MessagesOut
		s.WSBytesOut = es.WebSocket.BytesOut - bs.WebSocket.BytesOut
		s.WSRefused = es.WebSocket.Refused
		s.Datagrams = es.Filter.Sent - bs.Filter.Sent
		s.SendRefused = es.Filter.SendRefused - bs.Filter.SendRefused
		s.KCPOutSegs = es.KCP.OutSegs - bs.KCP.OutSegs
		s.KCPRetrans = es.KCP.RetransSegs - bs.KCP.RetransSegs
		s.KCPFastResend = es.KCP.FastRetransSegs - bs.KCP.FastRetransSegs
		s.KCPLost = es.KCP.LostSegs - bs.KCP.LostSegs
	}
	s.TickRate = end.bots.tickRate
	if s.TickRate == 0 {
		s.TickRate = c.tickRate
	}
	if t.pid != 0 && !c.embedded {
		s.Sched = schedReportOf(begin.serverSched, end.serverSched, secs)
	}
	if t.pid != 0 && secs > 0 {
		s.CPUPerSec = (end.serverCPU - begin.serverCPU).Seconds() / secs
		if c.embedded {
			// The process clock is the better one here (microseconds).
			s.CPUPerSec = (end.selfCPU - begin.selfCPU).Seconds() / secs
			s.ServerOnlyCPU = s.CPUPerSec - r.GeneratorWorkerCPU
		}
		ticks := float64(s.Ticks)
		if ticks == 0 {
			ticks = secs * float64(s.TickRate)
		}
		if ccu > 0 {
			cpu := s.CPUPerSec
			if c.embedded {
				cpu = s.ServerOnlyCPU
			}
			s.CPUPerClientTick = cpu * secs / (float64(ccu) * ticks) * 1e6
		}
	}
	if !c.embedded && begin.kcp != nil && end.kcp != nil {
		r.BotSegs = end.kcp.OutSegs - begin.kcp.OutSegs
		r.BotResent = end.kcp.RetransSegs - begin.kcp.RetransSegs
	}
	return r
}

func tickQOf(p50, p99, mx time.Duration) tickQ {
	return tickQ{P50: float64(p50) / 1e6, P99: float64(p99) / 1e6, Max: float64(mx) / 1e6}
}

func errorsJoin(errs ...error) error {
	var msgs []string
	for _, e := range errs {
		if e != nil {
			msgs = append(msgs, e.Error())
		}
	}
	if len(msgs) == 0 {
		return nil
	}
	return fmt.Errorf("%s", strings.Join(msgs, "; "))
}

// sending says when the bots' states and acks went out.
func sending(c *config, tickRate int) string {
	var s, ws string
	switch {
	case c.rate == 0:
		s, ws = "no states", "no states"
	case c.statesOnFrames(tickRate):
		s, ws = "states with each frame's acks", "states at the poll that read each frame"
		if c.wsDefer {
			ws = "states at the poll after the one that read each frame"
		}
	default:
		s, ws = "states on a timer", "states on a timer"
	}
	if c.holdAcks {
		s += ", other acks held for the next state"
	} else {
		s += ", other acks at once"
	}
	switch c.transport {
	case "ws":
		return "WebSocket: " + ws
	case "mixed":
		return "KCP: " + s + "; WebSocket: " + ws
	}
	return s
}

func kib(v float64) string { return fmt.Sprintf("%.2f KiB", v/1024) }

func (r *report) print(out io.Writer) {
	p := func(format string, a ...any) { fmt.Fprintf(out, format+"\n", a...) }
	roomDesc := fmt.Sprintf("rooms of %d", r.RoomSize)
	if r.RoomSize == 0 {
		roomDesc = "the lobby (no rooms)"
	}
	p("relay-bench: %d bots in %s, %d-byte states at %d Hz (%s), %s relay at %s; measured %.1f s (joining took %.1f s)",
		r.Players, roomDesc, r.StateBytes, r.Rate, r.Sending, r.Mode, r.Addr, r.Seconds, r.JoinSeconds)
	if r.Interrupted {
		p("INTERRUPTED: the figures cover less than the requested time")
	}
	q := func(x quantiles) string {
		if x.Samples == 0 {
			return "no samples"
		}
		return fmt.Sprintf("p50 %.2f ms  p99 %.2f ms  max %.2f ms  (%d samples)", x.P50, x.P99, x.Max, x.Samples)
	}
	p("ccu             %d (joined %d of %d, failed %d)", r.CCU, r.Joined, r.Players, r.Failed)
	p("join time       %s", q(r.Join))
	p("state latency   %s", q(r.Latency))
	p("frame jitter    %s", q(r.Jitter))
	p("ping rtt        %s", q(r.RTT))
	p("traffic         %.0f states/s sent, %.0f frames/s and %.0f state entries/s received, %d frames missed",
		r.StatesSentPerSec, r.FramesPerSec, r.StatesRecvPerSec, r.TickGaps)
	packets, overhead := "datagrams", "wire/(payload+52 B per message)"
	switch r.Transport {
	case "ws":
		packets, overhead = "TCP segments", "wire/(payload+framing+52 B per message)"
	case "mixed":
		packets, overhead = "datagrams and TCP segments", "overhead"
	}
	d := func(x direction) string {
		return fmt.Sprintf("wire %s (%.1f %s), payload %s (%.1f messages), %s %.3f",
			kib(x.WireBytes), x.Datagrams, packets, kib(x.PayloadBytes), x.Messages, overhead, x.Overhead)
	}
	p("per client/s    down: %s", d(r.Down))
	p("                up:   %s", d(r.Up))
	p("                total wire %s, overhead %.3f", kib(r.WireTotal), r.OverheadTotal)
	s := &r.Server
	shared := ""
	if s.Shared {
		shared = " (whole process: bots included)"
	}
	if s.CPUPerSec > 0 || s.RSS > 0 {
		p("server cpu      %.3f s/s%s, %.2f us per client-tick", s.CPUPerSec, shared, s.CPUPerClientTick)
		if s.Shared {
			p("                %.3f s/s without the bot worker threads (used for the per client-tick figure)", s.ServerOnlyCPU)
		}
		p("server rss      %.1f MiB%s, %.1f MiB before the bots: %.1f KiB per client", float64(s.RSS)/(1<<20), shared,
			float64(s.RSSBefore)/(1<<20), s.RSSPerClient/1024)
	} else {
		p("server cpu      unknown (give -pid)")
	}
	if s.Sched != nil {
		p("server sched    %s", s.Sched)
	}
	if s.StatsError != "" {
		p("server stats    error: %s", s.StatsError)
	}
	if s.Ticks > 0 {
		p("tick            work p50 %.3f ms  p99 %.3f ms  max %.3f ms; lateness p50 %.3f ms  p99 %.3f ms  max %.3f ms",
			s.Work.P50, s.Work.P99, s.Work.Max, s.Late.P50, s.Late.P99, s.Late.Max)
		if s.TickQuantiles == "window" {
			p("                %d ticks, %d overruns, %d skipped in the window; quantiles of the window's ticks (histogram buckets, at most 9%% high)",
				s.Ticks, s.Overruns, s.Skipped)
		} else {
			p("                %d ticks, %d overruns, %d skipped in the window; percentiles over the server's last %d ticks, %d of them in the window",
				s.Ticks, s.Overruns, s.Skipped, s.SummarySamples, s.WindowSamples)
		}
		p("server frames   %d sent, %d held back; %d messages in; %d players, %d rooms; closes in window: %s",
			s.FramesSent, s.FramesHeldBack, s.MessagesIn, s.Players, s.Rooms, fmtMap(s.Closes))
		if s.Connections["ws"] > 0 || s.WSMessagesOut > 0 {
			p("server ws       %d connections (kcp %d); %d messages, %s written in the window; refused in the run: %s",
				s.Connections["ws"], s.Connections["kcp"], s.WSMessagesOut, kib(float64(s.WSBytesOut)), fmtMap(s.WSRefused))
		}
		p("server sends    %d datagrams, %d refused by the socket; KCP %d segments, %d resent (%d fast, %d after a timeout)",
			s.Datagrams, s.SendRefused, s.KCPOutSegs, s.KCPRetrans, s.KCPFastResend, s.KCPLost)
	} else if s.StatsError == "" {
		p("tick            unknown (give -stats-url)")
	}
	if r.BotSegs > 0 {
		p("bots sent       KCP %d segments, %d resent", r.BotSegs, r.BotResent)
	}
	p("socket drops    server %d, bots %d; bot send EAGAIN %d, errors %d, queue full %d; read errors %d",
		s.SocketDrops, r.BotSocketDrops, r.BotSendEAGAIN, r.BotSendErrors, r.BotSendBlocked, r.BotReadErrors)
	p("generator       %.3f s/s process cpu%s, %.3f s/s in %d worker threads, rss %.1f MiB",
		r.GeneratorCPU, map[bool]string{true: " (server included)", false: ""}[s.Shared], r.GeneratorWorkerCPU, r.Workers,
		float64(r.GeneratorRSS)/(1<<20))
	if r.GeneratorSched != nil {
		p("                %s", r.GeneratorSched)
	}
	p("bots saw        closes %s; errors %s; parse errors %d, kcp input errors %d",
		fmtMap(r.ClosesSeen), fmtMap(r.ErrorsSeen), r.ParseErrors, r.KCPInputErrors)
	if r.Transport != "kcp" {
		r.printTransports(out)
	}
}

func fmtMap[V int | uint64](m map[string]V) string {
	if len(m) == 0 {
		return "none"
	}
	var parts []string
	for _, k := range slices.Sorted(maps.Keys(m)) {
		parts = append(parts, fmt.Sprintf("%s=%d", k, m[k]))
	}
	return strings.Join(parts, " ")
}
