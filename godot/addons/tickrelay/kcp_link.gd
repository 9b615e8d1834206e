# The KCP-over-UDP link of client.gd: one UDP socket and one KCP conversation
# to the relay, carrying the protocol's framed messages as a byte stream
# (PROTOCOL.md sections 1 and 2). In the GDScript subset that both Godot 3.2+
# and Godot 4.x accept (see godot/README.md). client.gd makes one per
# connection (a resume opens a new one: a new source port, a new conv).
#
# The link interface that client.gd uses (websocket_link.gd has the same):
#   open(now) -> Error           opens the socket and sends nothing yet
#   send(frame)                  queues a framed message (4-byte length + body)
#   receive(now_us) -> int       reads the network: 1 something arrived, 0
#                                nothing, -1 the socket reported an error
#                                (may pass), -2 the link is closed for good
#   next_message()               the next decoded server message, or null
#   can_defer(now) -> bool       only acknowledgements wait: they may go with
#                                the next poll's data (client.gd's coalesce_sends)
#   flush(now, defer) -> bool    sends what is due; false if the socket refused
#   dead_reason() -> String      why the link is dead ("" while it lives)
#   unacked() -> int             messages sent that may not have arrived
#   take_unsent() -> Array       frames certainly never sent (to send again)
#   set_tick_rate(rate)          the relay's tick rate, from the welcome
#   linger(now) -> bool          after a bye: true once it is delivered
#   is_open() -> bool, close()   the socket; close() drops it without a word
#   is_established() -> bool     the relay is known to be there: what is sent
#                                now reaches it unless the link dies
#   describe() -> String         where it goes, for messages

const Kcp = preload("kcp.gd")

# The counters of client.gd (datagrams_in/out, bytes_in/out, conv).
var stats = {}
var kcp = null
var udp = null

var _proto
var _ip = ""
var _port = 0
var _conv = 0
var _mtu = 1200
var _window = 128
var _recv_buffer = 1 << 20
var _deferred = false  # the last flush() left its acks to this one


# proto: the client's protocol.gd (frames are cut out of the stream with it);
# conv: the KCP conversation id (0: a random one).
func _init(proto, ip, port, opts, conv = 0):
	_proto = proto
	_ip = ip
	_port = port
	_mtu = opts.get("mtu", 1200)
	_window = opts.get("window", 128)
	_recv_buffer = opts.get("recv_buffer_bytes", 1 << 20)
	_conv = conv


func describe():
	return "udp://%s:%d (KCP)" % [_ip, _port]


# Opens a UDP socket to the relay (a new local port each time) and a new KCP
# conversation. ERR_CANT_CREATE when the socket cannot be opened (a web
# export has no UDP).
func open(_now):
	close()
	if not _ip.is_valid_ip_address():
		return ERR_CANT_RESOLVE
	var u = PacketPeerUDP.new()
	# The engine drops datagrams past its receive queue (64 KiB by default):
	# a window of frames overflows it between two polls. Bind first with a
	# larger queue: bind() in Godot 4, listen() in Godot 3.
	var bind_method = "bind" if u.has_method("bind") else "listen"
	var any = "0.0.0.0" if _ip.find(":") < 0 else "*"
	var err = u.call(bind_method, 0, any, _recv_buffer)
	if err != OK:
		return ERR_CANT_CREATE
	err = u.connect_to_host(_ip, _port)
	if err != OK:
		u.close()
		return ERR_CANT_CREATE
	udp = u
	new_kcp(_conv)
	return OK


# A new KCP conversation (conv 0: a random one) and an empty stream buffer.
func new_kcp(conv):
	if conv == 0:
		var rng = RandomNumberGenerator.new()
		rng.randomize()
		while conv == 0:
			conv = rng.randi() & 0xFFFFFFFF
	kcp = Kcp.new()
	kcp.init(conv)
	kcp.set_mtu(_mtu)
	kcp.set_wndsize(_window, _window)
	kcp.set_nodelay(1, 10, 2, 1)
	_deferred = false
	_proto.reset()
	stats["conv"] = conv


func is_open():
	return udp != null


# UDP has no handshake: nothing says whether the relay is there.
func is_established():
	return false


func close():
	if udp != null:
		udp.close()
	udp = null


func send(frame):
	kcp.send(frame)


# The relay holds its acks for what a client sends until just after its
# next tick, to send them with the client's frame: KCP's 30 ms lower bound
# on the resend time, plus that tick, keeps states that were not lost from
# going twice (as the relay does for its frames, -min-rto).
func set_tick_rate(rate):
	if kcp != null and rate > 0:
		kcp.rx_minrto = kcp.RTO_NDL + 1000 / rate


func receive(now_us):
	# KCP measures round trips against its current time: give it the arrival
	# time of what follows, not the time of the last update.
	kcp.current = (now_us / 1000) & 0xFFFFFFFF
	var got = false
	# Each get_available_packet_count() reads the socket until it is empty
	# (a system call that finds nothing, at least): once per poll is enough.
	var npkt = udp.get_available_packet_count()
	for i in range(npkt):
		var pkt = udp.get_packet()
		stats["datagrams_in"] += 1
		stats["bytes_in"] += pkt.size()
		if kcp.input(pkt) == 0:
			got = true
	if got:
		return 1
	# A receive error: typically the relay's port is closed (an ICMP port
	# unreachable came back).
	return -1 if npkt < 0 else 0


# The next complete message of the stream: a KCP message that is exactly one
# frame is decoded from the message itself (the usual case); anything else
# goes through the stream buffer.
func next_message():
	var m = _proto.read_message()
	if m != null:
		return m
	while true:
		var data = kcp.recv()
		if data.size() == 0:
			return null
		m = _proto.read_whole(data)
		if m != null:
			return m
		_proto.feed(data)
		m = _proto.read_message()
		if m != null:
			return m


func can_defer(now):
	if _deferred or kcp.acklist.size() == 0:
		return false
	return not kcp.has_output_due(now, false)


# defer: leave the acks to the next flush (see can_defer()).
func flush(now, defer = false):
	if defer:
		_deferred = true
		return true
	# A poll that received nothing and has nothing to send skips KCP's flush
	# (and the socket write): the common case between two server frames.
	if not kcp.has_output_due(now):
		_deferred = false
		return true
	kcp.update(now)
	# update() flushes at most once per KCP interval: acks that were left
	# once stay marked so (and are not left again) until a flush sends them.
	_deferred = _deferred and kcp.acklist.size() > 0
	return _flush_output()


# Sends at once what KCP has (acks of what arrived, a bye).
func flush_now(now):
	kcp.update(now)
	kcp.flush()
	return _flush_output()


# Sends what KCP produced; false if the socket refused a datagram (the
# network is gone), not counting a full send buffer.
func _flush_output():
	var ok = true
	for d in kcp.take_output():
		var err = udp.put_packet(d)
		if err != OK and err != ERR_BUSY:
			ok = false
		stats["datagrams_out"] += 1
		stats["bytes_out"] += d.size()
	return ok


func dead_reason():
	if kcp != null and kcp.state == -1:
		return "the link is dead: a message was sent %d times without an ack" % kcp.dead_link
	return ""


# KCP segments (messages, or parts of large ones) queued or in flight that the
# relay has not acknowledged.
func unacked():
	return 0 if kcp == null else kcp.wait_snd()


# KCP does not tell which of its unacknowledged segments were sent: none is
# given back (they may have arrived).
func take_unsent():
	return []


# After a bye: keeps retransmitting (and reading acks) until it is acked.
func linger(now):
	kcp.current = now & 0xFFFFFFFF
	var npkt = udp.get_available_packet_count()
	for i in range(npkt):
		kcp.input(udp.get_packet())
	while true:
		var data = kcp.recv()
		if data.size() == 0:
			break
	kcp.update(now)
	_flush_output()
	return kcp.wait_snd() == 0
