# kcp.gd against itself over a simulated link in virtual time: loss,
# duplication, reordering, sequence numbers and clock crossing 2^32, window
# probing, fast resend, RTO back-off, fragments, and input validation.
# Throughout, has_output_due() is checked against what each update() sends
# (false must mean nothing), and one lossy transfer skips update() whenever
# it says nothing is due, as client.gd does.
#
#   godot3-server --no-window --path PROJECT -s res://tests/kcp_self_test.gd
extends SceneTree

const KCP = preload("res://addons/tickrelay/kcp.gd")
const M32 = 0xFFFFFFFF

var h
var rng
# run(): skip update() when has_output_due() is false; how often it was false
# (nothing may have been sent then) and how often that was checked.
var skip_idle = false
var idle_skips = 0
var idle_checks = 0


# A one-way path: datagrams wait in `flight` until their delivery time.
class SimPath:
	var loss = 0.0
	var dup = 0.0
	var delay = 10
	var jitter = 0
	var flight = []  # [deliver_at, seq, datagram]
	var seq = 0
	var drop_filter = null  # object with drop(datagram) -> bool, or null
	var sent = 0
	var dropped = 0

	func put(d, now, rng):
		sent += 1
		if drop_filter != null and drop_filter.drop(d):
			dropped += 1
			return
		if rng.randf() < loss:
			dropped += 1
			return
		var copies = 2 if rng.randf() < dup else 1
		for i in range(copies):
			var at = now + delay + (rng.randi_range(-jitter, jitter) if jitter > 0 else 0)
			seq += 1
			# Keep flight sorted by delivery time (stable for equal times).
			var j = flight.size()
			while j > 0 and flight[j - 1][0] > at:
				j -= 1
			flight.insert(j, [at, seq, d])

	# Datagrams due at `now`, earliest first (jitter reorders them).
	func due(now):
		var ds = []
		while flight.size() > 0 and flight[0][0] <= now:
			ds.append(flight.pop_front()[2])
		return ds


# Drops the first `count` datagrams that hold a segment with command `cmd`.
class CmdDropper:
	var cmd
	var count
	var dropped = 0

	func _init(c, n):
		cmd = c
		count = n

	func drop(d):
		if dropped < count and cmd in CmdDropper.cmds_of(d):
			dropped += 1
			return true
		return false

	# Commands of the segments in a datagram.
	static func cmds_of(d):
		var b = StreamPeerBuffer.new()
		b.data_array = d
		var out = []
		var pos = 0
		while d.size() - pos >= 24:
			b.seek(pos + 4)
			out.append(b.get_u8())
			b.seek(pos + 20)
			pos += 24 + b.get_u32()
		return out


func _init():
	h = preload("res://tests/harness.gd").new()
	rng = RandomNumberGenerator.new()
	rng.seed = int(h.args().get("seed", "7"))
	test_input_errors()
	test_send_limits()
	test_fragments_and_peek()
	test_transfer_across_wrap()
	test_congestion_control_mode()
	test_fast_resend()
	test_rto_backoff_and_dead_link()
	test_window_probe()
	test_check()
	test_skip_idle_updates()
	h.check(idle_checks > 500, "has_output_due() was false only %d times" % idle_checks)
	h.finish(self)


func message(i, size):
	var b = StreamPeerBuffer.new()
	b.put_u32(i)
	b.put_u16(size)
	var x = (i * 2654435761) & M32
	while b.get_size() + 4 <= size:
		x = (x * 1103515245 + 12345) & M32
		b.put_u32(x)
	while b.get_size() < size:
		b.put_u8(i & 0xff)
	return b.data_array


func new_pair(conv):
	var a = KCP.new()
	var b = KCP.new()
	a.init(conv)
	b.init(conv)
	return [a, b]


# Runs a -> b and b -> a until done.call() says so or max_ms passes; returns
# the virtual time reached. `queues` are [a_pending, b_pending] messages to
# send while the send window has room; received messages go to got[0/1].
func run(a, b, pab, pba, now, max_ms, queues, got, step = 5):
	var end = now + max_ms
	while now < end:
		for side in range(2):
			var k = a if side == 0 else b
			var q = queues[side]
			while q.size() > 0 and k.wait_snd() < 2 * k.snd_wnd:
				h.check(k.send(q.pop_front()) == 0, "send failed")
		for side in range(2):
			var k = a if side == 0 else b
			var due = k.has_output_due(now)
			if due or not skip_idle:
				k.update(now)
			else:
				idle_skips += 1
			var out = k.take_output()
			if not due:
				idle_checks += 1
				if not h.check(out.size() == 0, "has_output_due() was false, but update() sent %d datagrams" % out.size()):
					return now
			for d in out:
				(pab if side == 0 else pba).put(d, now, rng)
		for d in pab.due(now):
			h.check(b.input(d) == 0, "b.input rejected a datagram")
		for d in pba.due(now):
			h.check(a.input(d) == 0, "a.input rejected a datagram")
		for side in range(2):
			var k = b if side == 0 else a
			while true:
				var m = k.recv()
				if m.size() == 0:
					break
				got[side].append(m)
		if queues[0].size() == 0 and queues[1].size() == 0 and a.wait_snd() == 0 and b.wait_snd() == 0 \
				and pab.flight.size() == 0 and pba.flight.size() == 0:
			break
		now += step
	return now


func test_input_errors():
	var k = KCP.new()
	k.init(0x01020304)
	h.check(k.input(h.hex_to_bytes("0102")) == KCP.ERR_SHORT, "short datagram")
	# A valid ack header for conv 0x01020304 (little-endian fields).
	var seg = "04030201" + "52" + "00" + "8000" + "00000000" + "00000000" + "00000000" + "00000000"
	h.check(k.input(h.hex_to_bytes(seg)) == 0, "valid ack")
	h.check(k.rmt_wnd == 128, "wnd field read little-endian")
	h.check(k.input(h.hex_to_bytes("05" + seg.substr(2, seg.length() - 2))) == KCP.ERR_SHORT, "wrong conv")
	var badcmd = "04030201" + "63" + seg.substr(10, seg.length() - 10)
	h.check(k.input(h.hex_to_bytes(badcmd)) == KCP.ERR_BAD_CMD, "bad cmd")
	var trunc = "04030201" + "51" + "00" + "8000" + "00000000" + "00000000" + "00000000" + "10000000" + "0102"
	h.check(k.input(h.hex_to_bytes(trunc)) == KCP.ERR_TRUNCATED, "declared length beyond the datagram")
	var huge = "04030201" + "51" + "00" + "8000" + "00000000" + "00000000" + "00000000" + "ffffffff"
	h.check(k.input(h.hex_to_bytes(huge)) == KCP.ERR_TRUNCATED, "u32 max length")
	h.check(k.rcv_queue.size() == 0 and k.rcv_buf.size() == 0, "bad input left data behind")
	# A push far outside the receive window is ignored (not even acked).
	var far = "04030201" + "51" + "00" + "8000" + "00000000" + "00100000" + "00000000" + "01000000" + "aa"
	h.check(k.input(h.hex_to_bytes(far)) == 0 and k.acklist.size() == 0 and k.rcv_buf.size() == 0, "push beyond window")


func test_send_limits():
	var k = KCP.new()
	k.init(1)
	h.check(k.send(StreamPeerBuffer.new().data_array) == KCP.SEND_EMPTY, "empty send")
	var b = StreamPeerBuffer.new()
	b.resize(k.mss * 127)
	h.check(k.max_message_size() == k.mss * 127, "max message size with rcv_wnd 128")
	h.check(k.send(b.data_array) == 0, "127 fragments must be accepted")
	h.check(k.snd_queue.size() == 127 and k.snd_queue[0][KCP.SEG_FRG] == 126 and k.snd_queue[126][KCP.SEG_FRG] == 0, "frg counts down")
	b.resize(k.mss * 127 + 1)
	h.check(k.send(b.data_array) == KCP.SEND_TOO_LARGE, "128 fragments must be refused")
	h.check(k.set_mtu(20) < 0 and k.mtu == 1200, "tiny mtu refused")
	h.check(k.set_mtu(500) == 0 and k.mss == 476, "mtu 500")


func test_fragments_and_peek():
	var p = new_pair(77)
	var a = p[0]
	var b = p[1]
	var msg = message(1, 3000)
	h.check(a.send(msg) == 0, "send 3000")
	a.update(1000)
	var out = a.take_output()
	h.check(out.size() == 3, "3000 bytes = 3 datagrams at MTU 1200, got %d" % out.size())
	b.update(1000)
	# Deliver in reverse: nothing is complete until the first fragment comes.
	for i in range(out.size() - 1, -1, -1):
		h.check(b.peek_size() == -1 and b.recv().size() == 0, "message complete too early")
		h.check(b.input(out[i]) == 0, "input fragment")
	h.check(b.peek_size() == 3000, "peek_size %d" % b.peek_size())
	var m = b.recv()
	h.check(m == msg, "reassembled message differs")
	h.check(b.recv().size() == 0 and b.peek_size() == -1, "queue empty after recv")
	for d in out:
		b.input(d)  # duplicates of everything
	h.check(b.recv().size() == 0, "duplicate fragments gave a second message")
	for d in out:
		var size = d.size()
		h.check(size <= 1200, "datagram above MTU: %d" % size)


func test_transfer_across_wrap():
	var p = new_pair(M32)  # conv with every bit set
	var a = p[0]
	var b = p[1]
	var start_sn = M32 - 100
	a.debug_set_sequence(start_sn)
	b.debug_set_sequence(start_sn)
	var pab = SimPath.new()
	var pba = SimPath.new()
	for path in [pab, pba]:
		path.loss = 0.1
		path.dup = 0.05
		path.delay = 25
		path.jitter = 15
	var sent = [[], []]
	var queues = [[], []]
	for i in range(300):
		var size = [1, 2, 1176, 1177, 2352, 2353, 4000][i] if i < 7 else rng.randi_range(1, 4000)
		var m = message(i, max(size, 6))
		sent[0].append(m)
		queues[0].append(m)
	for i in range(100):
		var m = message(1000 + i, rng.randi_range(6, 1500))
		sent[1].append(m)
		queues[1].append(m)
	var got = [[], []]
	# The clock starts 0.3 s before it wraps.
	var t0 = M32 - 300
	var t1 = run(a, b, pab, pba, t0, 300000, queues, got)
	for side in range(2):
		var ok = got[side].size() == sent[side].size()
		h.check(ok, "side %d: %d of %d messages" % [side, got[side].size(), sent[side].size()])
		if ok:
			for i in range(sent[side].size()):
				if not h.check(got[side][i] == sent[side][i], "side %d message %d differs" % [side, i]):
					break
	h.check(t1 > M32, "the clock did not wrap (ended at %d)" % t1)
	h.check(a.snd_nxt < 1000 and b.rcv_nxt == a.snd_nxt, "sn did not wrap: snd_nxt %d rcv_nxt %d" % [a.snd_nxt, b.rcv_nxt])
	h.check(a.xmit > 0 and a.stat_fast_resends > 0, "no retransmissions under 10% loss?")
	h.check(a.state == 0 and b.state == 0, "link declared dead")
	print("wrap transfer: %d ms virtual, a retransmitted %d (fast %d), datagrams a->b %d (%d dropped), rto %d" % [
		t1 - t0, a.xmit, a.stat_fast_resends, pab.sent, pab.dropped, a.rx_rto])


func test_congestion_control_mode():
	var p = new_pair(5)
	var a = p[0]
	var b = p[1]
	a.set_nodelay(0, 20, 0, 0)
	b.set_nodelay(0, 20, 0, 0)
	a.set_wndsize(32, 32)
	b.set_wndsize(32, 32)
	var pab = SimPath.new()
	var pba = SimPath.new()
	pab.loss = 0.05
	pab.delay = 20
	pba.delay = 20
	var queues = [[], []]
	var sent = []
	for i in range(150):
		var m = message(i, rng.randi_range(6, 3000))
		sent.append(m)
		queues[0].append(m)
	var got = [[], []]
	run(a, b, pab, pba, 0, 300000, queues, got, 10)
	var ok = got[0].size() == sent.size()
	for i in range(min(got[0].size(), sent.size())):
		ok = ok and got[0][i] == sent[i]
	h.check(ok, "congestion-controlled transfer: %d of %d" % [got[0].size(), sent.size()])
	h.check(a.cwnd >= 1 and a.ssthresh >= 2, "cwnd %d ssthresh %d" % [a.cwnd, a.ssthresh])


func test_fast_resend():
	var p = new_pair(9)
	var a = p[0]
	var b = p[1]
	var msgs = []
	for i in range(10):
		var m = message(i, 1000)
		msgs.append(m)
		a.send(m)
	var now = 5000
	a.update(now)
	b.update(now)
	var out = a.take_output()
	h.check(out.size() == 10, "10 datagrams, got %d" % out.size())
	# Lose sn 0; the others arrive one per flush, so that their acks come in
	# separate datagrams (fastack counts once per input() call).
	var got = []
	var deadline = now + 150
	var next = 1
	while now < deadline and got.size() < 10:
		now += 10
		if next < out.size():
			b.input(out[next])
			next += 1
		b.update(now)
		for d in b.take_output():
			a.input(d)
		a.update(now)
		for d in a.take_output():
			b.input(d)
		while true:
			var m = b.recv()
			if m.size() == 0:
				break
			got.append(m)
	h.check(got.size() == 10 and got[0] == msgs[0], "fast resend recovered %d of 10" % got.size())
	h.check(a.stat_fast_resends >= 1, "no fast resend")
	h.check(a.stat_timeout_resends == 0, "recovered by timeout (RTO 200 ms) instead of fast resend")


func test_rto_backoff_and_dead_link():
	var p = new_pair(11)
	var a = p[0]
	var b = p[1]
	var msg = message(1, 100)
	# Segment RTOs grow by half each time without a cap: 20 transmissions
	# would take 20 virtual minutes.
	a.dead_link = 8
	a.send(msg)
	var now = 0
	var sends = []
	# Everything from a is lost: count how often and when sn 0 goes out.
	while now < 120000 and a.state == 0:
		a.update(now)
		if a.take_output().size() > 0:
			sends.append(now)
		now += 10
	h.check(a.state == -1, "dead link not reported")
	h.check(sends.size() == a.dead_link, "%d transmissions before dead link, want %d" % [sends.size(), a.dead_link])
	var growing = true
	for i in range(2, sends.size()):
		if sends[i] - sends[i - 1] < sends[i - 1] - sends[i - 2]:
			growing = false
	h.check(growing, "RTO did not back off: %s" % str(sends))
	# The link comes back: the segment still gets through.
	b.update(now)
	a.update(now + 200000)
	var got = false
	for i in range(2000):
		now += 10
		a.update(now)
		b.update(now)
		for d in a.take_output():
			b.input(d)
		for d in b.take_output():
			a.input(d)
		if b.recv() == msg:
			got = true
			break
	h.check(got, "message lost after the link came back")


func test_window_probe():
	var p = new_pair(13)
	var a = p[0]
	var b = p[1]
	var pab = SimPath.new()
	var pba = SimPath.new()
	var n = 300
	var sent = []
	for i in range(n):
		var m = message(i, 500)
		sent.append(m)
		a.send(m)
	var now = 100
	# b does not read: its queue fills and a sees a zero window.
	while now < 10000 and a.rmt_wnd != 0:
		a.update(now)
		b.update(now)
		for d in a.take_output():
			pab.put(d, now, rng)
		for d in b.take_output():
			pba.put(d, now, rng)
		for d in pab.due(now):
			b.input(d)
		for d in pba.due(now):
			a.input(d)
		now += 10
	h.check(a.rmt_wnd == 0, "a never saw a zero window")
	h.check(b.rcv_queue.size() == b.rcv_wnd, "b's queue is not full")
	# b reads everything and tells its window; that tell is lost, so only
	# a's window probe (after PROBE_INIT ms) can restart the transfer.
	var dropper = CmdDropper.new(KCP.CMD_WINS, 1)
	pba.drop_filter = dropper
	var got = []
	var probes = 0
	var resumed_at = -1
	var t_read = now
	while now < t_read + 60000 and got.size() < n:
		a.update(now)
		b.update(now)
		for d in a.take_output():
			if KCP.CMD_WASK in CmdDropper.cmds_of(d):
				probes += 1
			pab.put(d, now, rng)
		for d in b.take_output():
			pba.put(d, now, rng)
		for d in pab.due(now):
			b.input(d)
		for d in pba.due(now):
			a.input(d)
		while true:
			var m = b.recv()
			if m.size() == 0:
				break
			got.append(m)
		if resumed_at < 0 and a.rmt_wnd > 0:
			resumed_at = now
		now += 10
	h.check(dropper.dropped == 1, "no window tell was sent to drop")
	h.check(probes >= 1, "no window probe")
	h.check(resumed_at - t_read >= KCP.PROBE_INIT, "resumed after %d ms, before any probe could" % (resumed_at - t_read))
	var ok = got.size() == n
	for i in range(min(got.size(), n)):
		ok = ok and got[i] == sent[i]
	h.check(ok, "window probe transfer: %d of %d" % [got.size(), n])


# A lossy, jittery transfer both ways where each side calls update() only
# when has_output_due() says a flush would send something: everything still
# arrives, in order, and most of the polls skip the flush.
func test_skip_idle_updates():
	var p = new_pair(21)
	var a = p[0]
	var b = p[1]
	var pab = SimPath.new()
	var pba = SimPath.new()
	for path in [pab, pba]:
		path.loss = 0.1
		path.dup = 0.05
		path.delay = 30
		path.jitter = 10
	var sent = [[], []]
	var queues = [[], []]
	for i in range(200):
		var m = message(i, rng.randi_range(6, 3000))
		sent[0].append(m)
		queues[0].append(m)
	for i in range(50):
		var m = message(500 + i, rng.randi_range(6, 200))
		sent[1].append(m)
		queues[1].append(m)
	var got = [[], []]
	skip_idle = true
	idle_skips = 0
	var t1 = run(a, b, pab, pba, 1000, 300000, queues, got, 2)
	skip_idle = false
	for side in range(2):
		var ok = got[side].size() == sent[side].size()
		for i in range(min(got[side].size(), sent[side].size())):
			ok = ok and got[side][i] == sent[side][i]
		h.check(ok, "skipping idle updates, side %d: %d of %d messages" % [side, got[side].size(), sent[side].size()])
	h.check(a.xmit > 0, "no retransmissions under 10% loss?")
	h.check(a.state == 0 and b.state == 0, "link declared dead")
	var updates = 2 * (t1 - 1000) / 2  # two sides, a step of 2 ms
	h.check(idle_skips * 10 > updates, "only %d of %d updates skipped" % [idle_skips, updates])
	print("skip idle updates: %d ms virtual, %d updates skipped, a retransmitted %d" % [t1 - 1000, idle_skips, a.xmit])


func test_check():
	var k = KCP.new()
	k.init(3)
	h.check(k.check(500) == 500, "check before the first update")
	k.update(1000)
	var c = k.check(1001)
	h.check(c > 1001 and c <= 1000 + k.interval, "idle check %d" % c)
	k.send(message(1, 10))
	k.update(1010)  # flush: sn 0 in flight, resend due at now + rto
	c = k.check(1011)
	h.check(c >= 1011 and c <= 1010 + k.interval, "check with data in flight %d" % c)
	# Across the 2^32 wrap of the clock.
	var w = KCP.new()
	w.init(3)
	w.update(M32 - 3)
	c = w.check(M32 - 2)
	h.check(c == ((M32 - 3 + w.interval) & M32), "check across wrap: %d" % c)
