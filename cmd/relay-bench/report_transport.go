//go:build linux

package main

import (
	"fmt"
	"io"
)

// transportReport is what the bots of one transport saw over the measured
// window: the summary's figures that both transports have.
type transportReport struct {
	Bots    int       `json:"bots"`
	CCU     int       `json:"ccu"`
	Joined  uint64    `json:"joined"`
	Failed  int       `json:"failed"`
	Join    quantiles `json:"join_time"`
	Latency quantiles `json:"state_latency"` // states this transport's bots received
	// LatencyFrom splits Latency by the sending bot's transport.
	LatencyFrom map[string]quantiles `json:"state_latency_from"`
	Jitter      quantiles            `json:"frame_jitter"`
	RTT         quantiles            `json:"ping_rtt"`

	Down          direction `json:"down"`
	Up            direction `json:"up"`
	WireTotal     float64   `json:"wire_bytes_per_client_per_second"`
	OverheadTotal float64   `json:"overhead"`

	StatesSentPerSec float64 `json:"states_sent_per_second"`
	StatesRecvPerSec float64 `json:"state_entries_received_per_second"`
	FramesPerSec     float64 `json:"frames_received_per_second"`
	TickGaps         uint64  `json:"frames_missed"`

	// GeneratorCPU is what these bots cost the generator: KCP, the
	// workers' threads; WebSocket, the process less the KCP workers
	// (its controller included), unknown (0) with -embedded, where the
	// relay shares the process.
	GeneratorCPU float64 `json:"generator_cpu_seconds_per_second"`
	// Resent is segments the bots resent: KCP's (external relay only),
	// or TCP's.
	Resent      uint64 `json:"resent_segments"`
	ParseErrors uint64 `json:"parse_errors"`
	FirstError  string `json:"first_connect_error,omitempty"`
}

// traffic is both directions per client per second, from the counters'
// change over secs, and the total wire bytes and overhead.
func traffic(b, e *counters, ccu int, secs float64) (down, up direction, wire, overhead float64) {
	per := func(v uint64) float64 {
		if ccu == 0 || secs <= 0 {
			return 0
		}
		return float64(v) / float64(ccu) / secs
	}
	dir := func(packets, wire, payload, msgs, least uint64) direction {
		d := direction{WireBytes: per(wire), Datagrams: per(packets), PayloadBytes: per(payload), Messages: per(msgs)}
		if least > 0 {
			d.Overhead = float64(wire) / float64(least)
		}
		return d
	}
	down = dir(e.DgramsIn-b.DgramsIn, e.WireIn-b.WireIn, e.PayloadIn-b.PayloadIn, e.MsgsIn-b.MsgsIn, e.LeastIn-b.LeastIn)
	up = dir(e.DgramsOut-b.DgramsOut, e.WireOut-b.WireOut, e.PayloadOut-b.PayloadOut, e.MsgsOut-b.MsgsOut, e.LeastOut-b.LeastOut)
	if least := e.LeastIn - b.LeastIn + e.LeastOut - b.LeastOut; least > 0 {
		overhead = float64(e.WireIn-b.WireIn+e.WireOut-b.WireOut) / float64(least)
	}
	return down, up, down.WireBytes + up.WireBytes, overhead
}

func transportReports(c *config, set *fleet, begin, end sample, r *report) map[string]*transportReport {
	secs := end.at.Sub(begin.at).Seconds()
	out := map[string]*transportReport{}
	for k := kind(0); k < numKinds; k++ {
		bots := 0
		switch {
		case k == kindKCP && set.kcp != nil:
			for _, w := range set.kcp.workers {
				bots += len(w.bots)
			}
		case k == kindWS && set.ws != nil:
			bots = len(set.ws.bots)
		}
		if bots == 0 {
			continue
		}
		bs, es := &begin.byKind[k], &end.byKind[k]
		b, e := &bs.c, &es.c
		t := &transportReport{
			Bots: bots, CCU: es.inRoom, Joined: es.join.n, Failed: es.failed,
			Join: quantilesOf(&es.join), Latency: quantilesOf(&es.lat),
			Jitter: quantilesOf(&es.jitter), RTT: quantilesOf(&es.rtt),
			TickGaps: e.TickGaps - b.TickGaps, ParseErrors: e.ParseErrs,
			LatencyFrom: map[string]quantiles{},
		}
		for from := kind(0); from < numKinds; from++ {
			if h := &es.latFrom[from]; h.n > 0 {
				t.LatencyFrom[from.String()] = quantilesOf(h)
			}
		}
		t.Down, t.Up, t.WireTotal, t.OverheadTotal = traffic(b, e, t.CCU, secs)
		if secs > 0 {
			t.StatesSentPerSec = float64(e.StatesSent-b.StatesSent) / secs
			t.StatesRecvPerSec = float64(e.StatesRecv-b.StatesRecv) / secs
			t.FramesPerSec = float64(e.Frames-b.Frames) / secs
		}
		switch k {
		case kindKCP:
			t.GeneratorCPU = r.GeneratorWorkerCPU
			t.Resent = r.BotResent
		case kindWS:
			if !c.embedded {
				t.GeneratorCPU = r.GeneratorCPU - r.GeneratorWorkerCPU
			}
			t.Resent = e.TCPRetrans - b.TCPRetrans
			t.FirstError = set.ws.firstDialError()
		}
		out[k.String()] = t
	}
	return out
}

func (r *report) printTransports(out io.Writer) {
	p := func(format string, a ...any) { fmt.Fprintf(out, format+"\n", a...) }
	q := func(x quantiles) string {
		if x.Samples == 0 {
			return "none"
		}
		return fmt.Sprintf("p50 %.2f p99 %.2f max %.2f ms", x.P50, x.P99, x.Max)
	}
	for k := kind(0); k < numKinds; k++ {
		t := r.Transports[k.String()]
		if t == nil {
			continue
		}
		packets := "datagrams"
		if k == kindWS {
			packets = "TCP segments"
		}
		p("transport %-5s %d bots, ccu %d (joined %d, failed %d); join %s", k, t.Bots, t.CCU, t.Joined, t.Failed, q(t.Join))
		p("                state latency %s (%d samples)", q(t.Latency), t.Latency.Samples)
		for from := kind(0); from < numKinds; from++ {
			if l, ok := t.LatencyFrom[from.String()]; ok && len(t.LatencyFrom) > 1 {
				p("                  from %-4s %s (%d samples)", from, q(l), l.Samples)
			}
		}
		p("                frame jitter %s; ping rtt %s", q(t.Jitter), q(t.RTT))
		p("                %.0f states/s sent, %.0f frames/s received, %d frames missed", t.StatesSentPerSec, t.FramesPerSec, t.TickGaps)
		d := func(x direction) string {
			return fmt.Sprintf("wire %s (%.1f %s), payload %s (%.1f messages), overhead %.3f",
				kib(x.WireBytes), x.Datagrams, packets, kib(x.PayloadBytes), x.Messages, x.Overhead)
		}
		p("                per client/s down: %s", d(t.Down))
		p("                             up:   %s", d(t.Up))
		p("                total wire %s per client/s, overhead %.3f; %d segments resent; parse errors %d",
			kib(t.WireTotal), t.OverheadTotal, t.Resent, t.ParseErrors)
		if k == kindWS && r.Mode == "embedded" {
			p("                generator cpu: not separable from the embedded relay's")
		} else {
			p("                generator cpu %.3f s/s", t.GeneratorCPU)
		}
		if t.FirstError != "" {
			p("                first connection error: %s", t.FirstError)
		}
	}
}
