//go:build linux

package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/netip"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// A short embedded run: every bot joins, states cross between bots, and
// every figure the report is for is present and plausible. No timing
// targets: the machine running the tests may be slow or busy.
func TestEmbeddedRunReportsSaneNumbers(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	var out, errOut bytes.Buffer
	args := []string{"-embedded", "-players", "16", "-room-size", "8", "-duration", "1500ms", "-warmup", "300ms",
		"-progress", "500ms", "-json"}
	if err := run(ctx, args, &out, &errOut); err != nil {
		t.Fatalf("run: %v\n%s", err, errOut.String())
	}
	var r report
	if err := json.Unmarshal(out.Bytes(), &r); err != nil {
		t.Fatalf("json: %v\n%s", err, out.String())
	}
	if r.CCU != 16 || r.Joined != 16 || r.Failed != 0 {
		t.Errorf("ccu %d joined %d failed %d, want 16/16/0", r.CCU, r.Joined, r.Failed)
	}
	if r.Join.Samples != 16 || r.Join.P50 <= 0 {
		t.Errorf("join time %+v", r.Join)
	}
	if r.Latency.Samples == 0 || r.Latency.P50 <= 0 || r.Latency.P99 < r.Latency.P50 || r.Latency.Max < r.Latency.P99 {
		t.Errorf("state latency %+v", r.Latency)
	}
	if r.Jitter.Samples == 0 || r.RTT.Samples == 0 || r.RTT.P50 <= 0 {
		t.Errorf("jitter %+v rtt %+v", r.Jitter, r.RTT)
	}
	for name, d := range map[string]direction{"down": r.Down, "up": r.Up} {
		if d.WireBytes <= d.PayloadBytes || d.PayloadBytes <= 0 || d.Datagrams <= 0 || d.Messages <= 0 || d.Overhead < 1 {
			t.Errorf("%s traffic %+v", name, d)
		}
	}
	if r.StatesSentPerSec <= 0 || r.FramesPerSec <= 0 || r.StatesRecvPerSec <= 0 {
		t.Errorf("rates: states sent %.0f frames %.0f entries %.0f", r.StatesSentPerSec, r.FramesPerSec, r.StatesRecvPerSec)
	}
	s := r.Server
	if s.TickQuantiles != "window" {
		t.Errorf("tick quantiles from %q, want the window's histograms", s.TickQuantiles)
	}
	if !s.Shared || s.Ticks == 0 || s.FramesSent == 0 || s.MessagesIn == 0 || s.Work.P50 <= 0 || s.TickRate != 30 {
		t.Errorf("server %+v", s)
	}
	if s.CPUPerSec <= 0 || s.RSS <= 0 || r.GeneratorCPU <= 0 || r.GeneratorWorkerCPU <= 0 {
		t.Errorf("cpu: server %.3f rss %d generator %.3f workers %.3f", s.CPUPerSec, s.RSS, r.GeneratorCPU, r.GeneratorWorkerCPU)
	}
	if r.ParseErrors != 0 || r.KCPInputErrors != 0 {
		t.Errorf("parse errors %d, kcp input errors %d", r.ParseErrors, r.KCPInputErrors)
	}
	if g := r.GeneratorSched; g == nil || !strings.HasPrefix(g.Policy, "SCHED_") || g.CPUs == "" || g.Preempted < 0 {
		t.Errorf("generator scheduling %+v", g)
	}
	if r.ClosesSeen["client_closed"] != 16 {
		t.Errorf("closes after bye: %v", r.ClosesSeen)
	}
	if !strings.Contains(errOut.String(), "ccu=16") {
		t.Errorf("no progress line with ccu=16:\n%s", errOut.String())
	}
}

func TestHumanSummaryAndLobbyMode(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	var out bytes.Buffer
	args := []string{"-embedded", "-players", "4", "-room-size", "0", "-rate", "0", "-duration", "300ms", "-warmup", "0", "-progress", "0"}
	if err := run(ctx, args, &out, &bytes.Buffer{}); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"4 bots in the lobby", "ccu             4 ", "server cpu", "tick ", "socket drops", "generator"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("summary lacks %q:\n%s", want, out.String())
		}
	}
}

func TestRefusesNonLoopbackTargets(t *testing.T) {
	for _, args := range [][]string{
		{"-addr", "10.0.0.1:7777"},
		{"-addr", "192.168.1.1:7777"},
		{"-addr", "127.0.0.1:7777", "-stats-url", "http://10.1.2.3:9100/stats"},
	} {
		err := run(context.Background(), append(args, "-players", "1"), &bytes.Buffer{}, &bytes.Buffer{})
		if err == nil || !strings.Contains(err.Error(), "loopback") {
			t.Errorf("%v: %v, want a loopback refusal", args, err)
		}
	}
	if _, err := loopbackAddr("127.3.4.5:1"); err != nil {
		t.Errorf("127.3.4.5 refused: %v", err)
	}
}

func TestBadFlags(t *testing.T) {
	for _, args := range [][]string{
		{"-players", "0"}, {"-state-bytes", "9"}, {"-rate", "-1"}, {"-room-size", "65"},
		{"-duration", "0s"}, {"-embedded", "-pid", "1"}, {"extra"},
	} {
		if _, err := parse(args, &bytes.Buffer{}); err == nil {
			t.Errorf("%v: no error", args)
		}
	}
}

func TestHistQuantilesWithinBucketError(t *testing.T) {
	var h hist
	for i := 1; i <= 100000; i++ {
		h.record(time.Duration(i) * time.Microsecond)
	}
	for _, q := range []float64{0.5, 0.9, 0.99} {
		want := q * 100000 * float64(time.Microsecond)
		if got := float64(h.quantile(q)); got < want*0.97 || got > want*1.03 {
			t.Errorf("p%v = %v, want %v within 3%%", q*100, time.Duration(got), time.Duration(want))
		}
	}
	if h.quantile(1) != 100*time.Millisecond || h.quantile(0) != time.Microsecond {
		t.Errorf("min %v max %v", h.quantile(0), h.quantile(1))
	}
	var m hist
	m.merge(&h)
	m.merge(&h)
	if m.n != 2*h.n || m.quantile(0.5) != h.quantile(0.5) {
		t.Errorf("merge: n %d p50 %v", m.n, m.quantile(0.5))
	}
	for v := int64(0); v < 1<<20; v += 997 {
		if mid := bucketMid(bucketOf(v)); bucketOf(mid) != bucketOf(v) {
			t.Fatalf("bucketMid(%d) = %d is in another bucket", v, mid)
		}
	}
}

func TestStampRoundTrip(t *testing.T) {
	for _, size := range []int{10, 64, 257, 258, 1024} {
		w := &worker{cfg: &config{stateBytes: size}}
		w.buildStateTemplate()
		body := w.stateFr[4:]
		if got := int(uint32(w.stateFr[0])<<24 | uint32(w.stateFr[1])<<16 | uint32(w.stateFr[2])<<8 | uint32(w.stateFr[3])); got != len(body) {
			t.Fatalf("size %d: frame length %d, body %d", size, got, len(body))
		}
		value := body[2:] // after [20,
		if len(value) != size {
			t.Fatalf("size %d: value is %d bytes", size, len(value))
		}
		w.stateFr[w.stampAt] = 0x01
		if ts, ok := stampOf(value); !ok || ts>>56 != 1 {
			t.Fatalf("size %d: stamp %x %v", size, ts, ok)
		}
	}
}

// Bots that hold their acks for their next state send about one datagram per
// state; kcp-go's default sends most acks alone. Counts, not timing.
func TestHoldAcksHalvesUpstreamDatagrams(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	up := map[bool]float64{}
	for _, hold := range []bool{false, true} {
		var out, errOut bytes.Buffer
		args := []string{"-embedded", "-players", "8", "-room-size", "8", "-duration", "1s", "-warmup", "300ms",
			"-progress", "0", "-json", "-state-on-frame=false", "-hold-acks=" + strconv.FormatBool(hold)}
		if err := run(ctx, args, &out, &errOut); err != nil {
			t.Fatalf("run: %v\n%s", err, errOut.String())
		}
		var r report
		if err := json.Unmarshal(out.Bytes(), &r); err != nil {
			t.Fatalf("json: %v", err)
		}
		if r.CCU != 8 || r.Up.Messages <= 0 || r.ParseErrors != 0 {
			t.Fatalf("hold %v: ccu %d, up %+v, parse errors %d", hold, r.CCU, r.Up, r.ParseErrors)
		}
		up[hold] = r.Up.Datagrams / r.Up.Messages
	}
	t.Logf("upstream datagrams per message: %.2f at once, %.2f held", up[false], up[true])
	if up[true] > 1.2 || up[true] >= up[false] {
		t.Errorf("held acks: %.2f datagrams per message (at once: %.2f), want at most 1.2 and fewer", up[true], up[false])
	}
}

// By default a bot answers each frame with its state, in the datagram that
// acknowledges the frame, as the Godot client does: one upstream datagram
// per message and about one state per tick, whether the answer goes at
// the next poll (-poll-hz 60) or at once (0). Counts, not timing.
func TestStatesOnFramesCarryTheAcks(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	for _, hz := range []string{"60", "0"} {
		var out, errOut bytes.Buffer
		args := []string{"-embedded", "-players", "8", "-room-size", "8", "-duration", "1s", "-warmup", "300ms",
			"-progress", "0", "-json", "-poll-hz", hz}
		if err := run(ctx, args, &out, &errOut); err != nil {
			t.Fatalf("run: %v\n%s", err, errOut.String())
		}
		var r report
		if err := json.Unmarshal(out.Bytes(), &r); err != nil {
			t.Fatalf("json: %v", err)
		}
		if r.CCU != 8 || r.Up.Messages <= 0 || r.ParseErrors != 0 || !strings.HasPrefix(r.Sending, "states with each frame") {
			t.Fatalf("poll %s Hz: ccu %d, up %+v, parse errors %d, sending %q", hz, r.CCU, r.Up, r.ParseErrors, r.Sending)
		}
		perMsg := r.Up.Datagrams / r.Up.Messages
		perTick := r.StatesSentPerSec / float64(r.CCU) / 30
		t.Logf("poll %s Hz: %.2f upstream datagrams per message, %.2f states per bot per tick", hz, perMsg, perTick)
		if perMsg > 1.2 {
			t.Errorf("poll %s Hz: %.2f upstream datagrams per message, want at most 1.2", hz, perMsg)
		}
		if perTick < 0.7 || perTick > 1.05 {
			t.Errorf("poll %s Hz: %.2f states per bot per tick, want about 1", hz, perTick)
		}
	}
}

// Every bot sends from its own loopback address, as players come from
// their own machines: more bots than the relay's default sessions per IP
// (32) all join, and the bots' address mapping is one-to-one.
func TestBotsHaveTheirOwnAddresses(t *testing.T) {
	for _, i := range []int{0, 1, 253, 254, 255, 256, 65533} {
		a := botAddr(i)
		if a[0] != 127 {
			t.Fatalf("bot %d: address %v is not loopback", i, a)
		}
		if j, ok := botIndex(a, 65534); !ok || j != i {
			t.Fatalf("bot %d: address %v maps back to %d, %v", i, a, j, ok)
		}
	}
	if _, ok := botIndex([4]byte{127, 0, 0, 1}, 65534); ok {
		t.Fatal("127.0.0.1 maps to a bot")
	}
	if _, ok := botIndex(botAddr(10), 10); ok {
		t.Fatal("an address past the bots maps to a bot")
	}
	// Unique across workers and transports too.
	cfg, err := parse([]string{"-players", "40", "-workers", "3", "-transport", "mixed"}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	set, err := newFleet(cfg, &target{addr: netip.MustParseAddrPort("127.0.0.1:9"), wsURL: "ws://127.0.0.1:9/"})
	if err != nil {
		t.Fatal(err)
	}
	seen := map[[4]byte]bool{}
	take := func(name []byte, a [4]byte) {
		if seen[a] {
			t.Errorf("bot %s: address %v taken twice", name, a)
		}
		seen[a] = true
	}
	for _, w := range set.kcp.workers {
		for _, b := range w.bots {
			take(b.name, b.addr)
		}
	}
	for _, b := range set.ws.bots {
		take(b.name, b.addr)
	}
	set.close()
	if len(seen) != 40 || len(set.ws.bots) != 20 {
		t.Errorf("%d addresses for 40 bots, %d of them WebSocket bots", len(seen), len(set.ws.bots))
	}

	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	var out, errOut bytes.Buffer
	args := []string{"-embedded", "-players", "48", "-room-size", "8", "-ramp", "150", "-duration", "1s",
		"-warmup", "300ms", "-progress", "0", "-json"}
	if err := run(ctx, args, &out, &errOut); err != nil {
		t.Fatalf("run: %v\n%s", err, errOut.String())
	}
	var r report
	if err := json.Unmarshal(out.Bytes(), &r); err != nil {
		t.Fatalf("json: %v", err)
	}
	if r.CCU != 48 || r.Failed != 0 || r.BotReadErrors != 0 || r.FramesPerSec == 0 {
		t.Fatalf("ccu %d, failed %d, read errors %d, frames per second %.0f", r.CCU, r.Failed, r.BotReadErrors, r.FramesPerSec)
	}
}

// procSched reads the policy and nice value the kernel has for a process:
// a child is given SCHED_BATCH and nice 7 (neither needs privileges) and
// must be reported so, with the CPUs it may run on.
func TestProcSchedReadsPolicyAndNice(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	child := exec.CommandContext(ctx, "sleep", "60")
	if err := child.Start(); err != nil {
		t.Skipf("no sleep binary: %v", err)
	}
	defer child.Wait()
	defer cancel()
	before, err := procSched(child.Process.Pid)
	if err != nil {
		t.Fatal(err)
	}
	attr := unix.SchedAttr{Size: unix.SizeofSchedAttr, Policy: 3 /* SCHED_BATCH */, Nice: 7}
	if err := unix.SchedSetAttr(child.Process.Pid, &attr, 0); err != nil {
		t.Skipf("sched_setattr: %v", err)
	}
	after, err := procSched(child.Process.Pid)
	if err != nil {
		t.Fatal(err)
	}
	if after.Policy != "SCHED_BATCH" || after.Nice != 7 || after.Priority != 0 {
		t.Errorf("after sched_setattr: %+v, want SCHED_BATCH nice 7 (before: %+v)", after, before)
	}
	if before.Policy == after.Policy && before.Nice == after.Nice {
		t.Errorf("child was already %s nice %d: the test shows nothing", before.Policy, before.Nice)
	}
	self, err := procSched(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	if after.CPUs == "" || after.CPUs != self.CPUs {
		t.Errorf("child may run on CPUs %q, this process on %q: affinity is inherited", after.CPUs, self.CPUs)
	}
}
