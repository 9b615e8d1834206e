# kcp.gd against a kcp-go v5 echo server over real UDP (through a lossy
# proxy in the impaired runs). kcp-go's Write splits large writes into
# separate messages, so the echo is a byte stream: messages carry their own
# header (number u32, payload length u16, little-endian) and are reassembled
# by byte count.
#
#   godot3-server --no-window --path PROJECT -s res://tests/kcp_echo_test.gd -- \
#       --host=127.0.0.1 --port=N [--messages=200] [--seed=1] [--timeout-ms=20000]
extends SceneTree

const KCP = preload("res://addons/tickrelay/kcp.gd")
const HEADER = 6

var h


func _init():
	h = preload("res://tests/harness.gd").new()
	var a = h.args()
	var host = a.get("host", "127.0.0.1")
	var port = int(a.get("port", "0"))
	var count = int(a.get("messages", "200"))
	var timeout_ms = int(a.get("timeout-ms", "20000"))
	var rng = RandomNumberGenerator.new()
	rng.seed = int(a.get("seed", "1"))
	if not h.check(port > 0, "--port is required"):
		h.finish(self)
		return

	var udp = PacketPeerUDP.new()
	# The engine queues received datagrams in a 64 KiB ring and drops the rest
	# ("Buffer full, dropping packets!"): a 128-segment window of echoes
	# overflows it between two polls. Bind first with a larger ring (bind in
	# Godot 4, listen in Godot 3).
	var bind_method = "bind" if udp.has_method("bind") else "listen"
	h.check(udp.call(bind_method, 0, "127.0.0.1", 1 << 20) == OK, "bind the UDP socket")
	if not h.check(udp.connect_to_host(host, port) == OK, "connect_to_host %s:%d" % [host, port]):
		h.finish(self)
		return
	var kcp = KCP.new()
	var conv = rng.randi() & 0xFFFFFFFF
	kcp.init(conv)
	var mss = kcp.mss

	# Payload sizes: the fragment boundaries first, then random ones.
	var sizes = [1, 2, mss - HEADER - 1, mss - HEADER, mss - HEADER + 1, mss, 2 * mss - HEADER, 2 * mss - HEADER + 1, 5000, 1]
	while sizes.size() < count:
		sizes.append(rng.randi_range(1, 5000))
	sizes.resize(count)
	var total = 0
	for s in sizes:
		total += HEADER + s

	var rx = StreamPeerBuffer.new()  # the echoed stream
	var rpos = 0  # start of the next unparsed message in rx
	var next_send = 0
	var next_recv = 0
	var received = 0
	var start = h.now_msec()
	var deadline = start + timeout_ms
	var finished_at = -1
	var in_pkts = 0
	var out_pkts = 0
	var bad_input = 0
	while true:
		var now = h.now_msec()
		while udp.get_available_packet_count() > 0:
			var pkt = udp.get_packet()
			in_pkts += 1
			if kcp.input(pkt) != 0:
				bad_input += 1
		# Keep a bounded amount queued, as a game would.
		while next_send < count and kcp.wait_snd() < 2 * kcp.snd_wnd:
			h.check(kcp.send(message(next_send, sizes[next_send])) == 0, "send %d" % next_send)
			next_send += 1
		kcp.update(now)
		for d in kcp.take_output():
			udp.put_packet(d)
			out_pkts += 1
		while true:
			var m = kcp.recv()
			if m.size() == 0:
				break
			received += m.size()
			rx.seek(rx.get_size())
			rx.put_data(m)
		# Parse complete messages out of the stream.
		while rx.get_size() - rpos >= HEADER:
			rx.seek(rpos)
			var num = rx.get_u32()
			var plen = rx.get_u16()
			if rx.get_size() - rpos < HEADER + plen:
				break
			if not h.check(num == next_recv, "message %d arrived where %d was due" % [num, next_recv]):
				break
			h.check(plen == sizes[num], "message %d: length %d, sent %d" % [num, plen, sizes[num]])
			rx.seek(rpos)
			var whole = rx.get_data(HEADER + plen)[1]
			h.check(whole == message(num, plen), "message %d: bytes differ" % num)
			rpos += HEADER + plen
			next_recv += 1
		if h.failed > 0:
			break
		if next_recv == count and finished_at < 0:
			finished_at = now
		# After the last message, linger so that a duplicate would show up.
		if finished_at >= 0 and now - finished_at > 300:
			break
		if now > deadline:
			h.check(false, "timed out: %d of %d messages, %d of %d bytes echoed" % [next_recv, count, received, total])
			break
		OS.delay_msec(1)

	h.check(received == total, "echoed %d bytes, sent %d" % [received, total])
	h.check(bad_input == 0, "%d datagrams rejected by input()" % bad_input)
	print("conv %d: %d messages, %d bytes each way in %d ms; datagrams out %d in %d; retransmits %d (fast %d), srtt %d ms, rto %d ms" % [
		conv, next_recv, total, (finished_at if finished_at >= 0 else h.now_msec()) - start,
		out_pkts, in_pkts, kcp.xmit, kcp.stat_fast_resends, kcp.rx_srtt, kcp.rx_rto])
	udp.close()
	h.finish(self)


# Message i: header then a deterministic pseudo-random payload.
func message(i, size):
	var b = StreamPeerBuffer.new()
	b.put_u32(i)
	b.put_u16(size)
	var x = (i * 2654435761 + 1) & 0xFFFFFFFF
	var end = HEADER + size
	while b.get_size() + 4 <= end:
		x = (x * 1103515245 + 12345) & 0xFFFFFFFF
		b.put_u32(x)
	while b.get_size() < end:
		b.put_u8(i & 0xff)
	return b.data_array
