# KCP (reliable ARQ over UDP) for the tickrelay client, written from the
# protocol's description and interoperable with kcp-go v5 without encryption
# or FEC. It is in the GDScript subset that both Godot 3.2+ and Godot 4.x
# accept, and it never reads the clock: the caller passes the time in ms.
#
# Wire format: a UDP datagram holds one or more segments back to back, each a
# 24-byte little-endian header followed by `len` data bytes:
#     conv u32 | cmd u8 | frg u8 | wnd u16 | ts u32 | sn u32 | una u32 | len u32
#     cmd: 81 push (data), 82 ack, 83 window probe ask, 84 window probe tell
#     frg: fragments still to come in this message (counts down to 0)
#     wnd: free slots in the sender's receive queue
#     una: the sender has received every sn below this
#
# Usage (the caller owns the socket):
#     var kcp = preload("res://addons/tickrelay/kcp.gd").new()
#     kcp.init(conv)                       # datagrams go to take_output()
#     kcp.send(bytes)                      # queue a message
#     kcp.update(now_ms)                   # every few ms (see check())
#     for pkt in kcp.take_output(): udp.put_packet(pkt)
#     kcp.input(udp.get_packet())          # for every datagram received
#     var msg = kcp.recv()                 # empty when nothing is complete
# init(conv, object, "method") instead makes every flush call
# object.call("method", datagram) at once.
#
# All u32 fields are kept masked to 32 bits; sequence numbers and timestamps
# are compared through their signed 32-bit difference (_diff), so they may
# wrap around 2^32.

const OVERHEAD = 24
const CMD_PUSH = 81
const CMD_ACK = 82
const CMD_WASK = 83
const CMD_WINS = 84

const ASK_SEND = 1  # we must send a window probe
const ASK_TELL = 2  # we must tell our window

const RTO_NDL = 30  # minimum RTO in nodelay mode
const RTO_MIN = 100
const RTO_DEF = 200
const RTO_MAX = 60000
const PROBE_INIT = 7000
const PROBE_LIMIT = 120000
const THRESH_INIT = 2
const THRESH_MIN = 2
const DEADLINK = 20
const FASTACK_LIMIT = 5
# frg is a u8: a message may have at most 256 fragments (kcp-go's limit too).
const MAX_FRAGMENTS = 256

const M32 = 0xFFFFFFFF

# input() results
const ERR_OK = 0
const ERR_SHORT = -1  # less than a header, or a segment with another conv
const ERR_TRUNCATED = -2  # a header declares more data than the datagram has
const ERR_BAD_CMD = -3

# send() results
const SEND_EMPTY = -1
const SEND_TOO_LARGE = -2


# A segment is an Array indexed by these (an Array costs a fraction of an
# object of an inner class to create, and its fields are read by index):
#     frg    fragments still to come in its message
#     sn     sequence number
#     resendts, rto, fastack, xmit: sending state (snd_buf only)
#     data   its bytes
const SEG_FRG = 0
const SEG_SN = 1
const SEG_RESENDTS = 2
const SEG_RTO = 3
const SEG_FASTACK = 4
const SEG_XMIT = 5
const SEG_DATA = 6


var conv = 0
var mtu = 1200
var mss = 1200 - OVERHEAD
# 0 while the link works; -1 once a segment was sent dead_link times without
# being acked (the caller decides what to do: KCP itself keeps trying).
var state = 0

var snd_una = 0
var snd_nxt = 0
var rcv_nxt = 0
var ssthresh = THRESH_INIT
var rx_rttval = 0
var rx_srtt = 0
var rx_rto = RTO_DEF
var rx_minrto = RTO_MIN
var snd_wnd = 128
var rcv_wnd = 128
var rmt_wnd = 128
var cwnd = 0
var probe = 0
var current = 0
var interval = 10
var ts_flush = 10
var nodelay = 0
var updated = false
var ts_probe = 0
var probe_wait = 0
var dead_link = DEADLINK
var incr = 0
var fastresend = 0
var fastlimit = FASTACK_LIMIT
var nocwnd = 0

# Counters for diagnostics and tests.
var xmit = 0  # retransmissions (timeout and fast)
var stat_fast_resends = 0
var stat_timeout_resends = 0
var stat_in_segments = 0
var stat_out_datagrams = 0

var snd_queue = []  # segments not yet given a sn
var snd_buf = []  # segments sent, waiting for their ack, ordered by sn
var rcv_queue = []  # segments in order, ready for recv()
var rcv_buf = []  # segments received out of order, ordered by sn
var acklist = []  # flat [sn, ts, sn, ts, ...] to ack on the next flush

var _out  # StreamPeerBuffer assembling the next datagram
var _in  # StreamPeerBuffer parsing an input datagram
var _tmp  # StreamPeerBuffer for slicing and joining byte arrays
var _nil  # StreamPeerBuffer that stays empty: a source of empty byte arrays
var _output = []  # datagrams waiting for take_output()
var _output_obj = null
var _output_method = ""


func _init():
	_out = StreamPeerBuffer.new()
	_in = StreamPeerBuffer.new()
	_tmp = StreamPeerBuffer.new()
	_nil = StreamPeerBuffer.new()
	# StreamPeerBuffer is little-endian by default; set it anyway because the
	# whole header depends on it.
	_out.big_endian = false
	_in.big_endian = false
	_tmp.big_endian = false
	init(0)


# Resets all state. Defaults suit games: nodelay 1, interval 10, fast resend
# after 2 skipping acks, no congestion window, MTU 1200, windows 128/128.
# With output_obj set, every datagram is passed to output_obj.call(method, d);
# otherwise datagrams accumulate for take_output().
func init(conv_id, output_obj = null, output_method = ""):
	conv = conv_id & M32
	_output_obj = output_obj
	_output_method = output_method
	state = 0
	snd_una = 0
	snd_nxt = 0
	rcv_nxt = 0
	ssthresh = THRESH_INIT
	rx_rttval = 0
	rx_srtt = 0
	rx_rto = RTO_DEF
	rx_minrto = RTO_MIN
	snd_wnd = 128
	rcv_wnd = 128
	rmt_wnd = 128
	cwnd = 0
	probe = 0
	current = 0
	interval = 100
	ts_flush = 100
	nodelay = 0
	updated = false
	ts_probe = 0
	probe_wait = 0
	dead_link = DEADLINK
	incr = 0
	fastresend = 0
	fastlimit = FASTACK_LIMIT
	nocwnd = 0
	xmit = 0
	stat_fast_resends = 0
	stat_timeout_resends = 0
	stat_in_segments = 0
	stat_out_datagrams = 0
	snd_queue = []
	snd_buf = []
	rcv_queue = []
	rcv_buf = []
	acklist = []
	_output = []
	_out.clear()
	set_mtu(1200)
	set_nodelay(1, 10, 2, 1)
	set_wndsize(128, 128)


# nodelay: 0 normal, 1 fast RTO growth and 30 ms minimum RTO, 2 like 1 but
# backs off by the smoothed RTO. interval: flush period in ms (10..5000).
# resend: fast-resend a segment after this many acks skipped it (0 = off).
# nc: 1 disables the congestion window. A negative argument leaves it as is.
func set_nodelay(nd, iv, resend, nc):
	if nd >= 0:
		nodelay = nd
		rx_minrto = RTO_NDL if nd != 0 else RTO_MIN
	if iv >= 0:
		interval = int(clamp(iv, 10, 5000))
	if resend >= 0:
		fastresend = resend
	if nc >= 0:
		nocwnd = nc


func set_wndsize(snd, rcv):
	if snd > 0:
		snd_wnd = snd
	if rcv > 0:
		rcv_wnd = rcv


# Returns 0, or -1 when mtu cannot hold a header plus some data.
func set_mtu(m):
	if m < 50:
		return -1
	mtu = m
	mss = m - OVERHEAD
	return 0


# Segments not yet acknowledged by the peer, queued or in flight.
func wait_snd():
	return snd_buf.size() + snd_queue.size()


# The datagrams produced since the last call, oldest first.
func take_output():
	var o = _output
	_output = []
	return o


# Largest message send() accepts: its fragments must fit both in a frg byte
# and in the receive window (a message with more fragments than the peer's
# window never completes). This assumes the peer's receive window is at least
# ours, as with the symmetric settings the relay uses.
func max_message_size():
	return mss * int(min(MAX_FRAGMENTS, rcv_wnd - 1))


# Queues a message. Returns 0, SEND_EMPTY for an empty message (recv() could
# not tell it from "nothing"), or SEND_TOO_LARGE.
func send(data):
	var n = data.size()
	if n == 0:
		return SEND_EMPTY
	var count = 1
	if n > mss:
		count = (n + mss - 1) / mss
	if count > MAX_FRAGMENTS or count >= rcv_wnd:
		return SEND_TOO_LARGE
	# Going through _tmp also detaches the queued bytes from the caller's
	# array, which Godot 4 shares by reference: reusing it after send() must
	# not change what is (re)transmitted.
	_tmp.data_array = data
	if count == 1:
		snd_queue.append([0, 0, 0, 0, 0, 0, _tmp.data_array])
		_tmp.clear()
		return 0
	_tmp.seek(0)
	for i in range(count):
		var size = int(min(mss, n - i * mss))
		snd_queue.append([count - i - 1, 0, 0, 0, 0, 0, _tmp.get_data(size)[1]])
	_tmp.clear()
	return 0


# Size of the next complete message, or -1 if none is complete.
func peek_size():
	if rcv_queue.size() == 0:
		return -1
	var seg = rcv_queue[0]
	if seg[SEG_FRG] == 0:
		return seg[SEG_DATA].size()
	if rcv_queue.size() < seg[SEG_FRG] + 1:
		return -1
	var length = 0
	for s in rcv_queue:
		length += s[SEG_DATA].size()
		if s[SEG_FRG] == 0:
			break
	return length


# Returns the next complete message, or an empty byte array.
func recv():
	if rcv_queue.size() == 0:
		return _empty_bytes()
	if peek_size() < 0:
		return _empty_bytes()
	var recover = rcv_queue.size() >= rcv_wnd
	var result
	var first = rcv_queue.pop_front()
	if first[SEG_FRG] == 0:
		result = first[SEG_DATA]
	else:
		_tmp.clear()
		_tmp.put_data(first[SEG_DATA])
		while true:
			var seg = rcv_queue.pop_front()
			_tmp.put_data(seg[SEG_DATA])
			if seg[SEG_FRG] == 0:
				break
		result = _tmp.data_array
		_tmp.clear()
	_move_rcv_buf()
	# The queue was full, so our last acks advertised a zero window and the
	# peer stopped sending: tell it at once that there is room again.
	if rcv_queue.size() < rcv_wnd and recover:
		probe |= ASK_TELL
	return result


# Feeds one received datagram. Returns ERR_OK or a negative ERR_* code; the
# segments before a bad one have been processed.
func input(data):
	var size = data.size()
	if size < OVERHEAD:
		return ERR_SHORT
	var prev_una = snd_una
	var have_ack = false
	var maxack = 0
	_in.data_array = data
	_in.seek(0)
	var pos = 0
	var result = ERR_OK
	while size - pos >= OVERHEAD:
		# The header as three little-endian 64-bit words (three calls instead
		# of eight); >> is arithmetic, so each field is masked.
		var w = _in.get_64()
		if (w & M32) != conv:
			result = ERR_SHORT
			break
		var cmd = (w >> 32) & 0xff
		var frg = (w >> 40) & 0xff
		var wnd = (w >> 48) & 0xffff
		w = _in.get_64()
		var ts = w & M32
		var sn = (w >> 32) & M32
		w = _in.get_64()
		var una = w & M32
		var length = (w >> 32) & M32
		pos += OVERHEAD
		if size - pos < length:
			result = ERR_TRUNCATED
			break
		if cmd < CMD_PUSH or cmd > CMD_WINS:
			result = ERR_BAD_CMD
			break
		stat_in_segments += 1
		rmt_wnd = wnd
		# The peer has everything below una: drop it from snd_buf. (The common
		# steps of every segment are inlined here, _diff() too: a call costs
		# more than they do.)
		while snd_buf.size() > 0 and ((una - snd_buf[0][SEG_SN] + 0x80000000) & M32) > 0x80000000:
			snd_buf.pop_front()
		snd_una = snd_buf[0][SEG_SN] if snd_buf.size() > 0 else snd_nxt
		if cmd == CMD_ACK:
			var rtt = _diff(current, ts)
			if rtt >= 0:
				_update_ack(rtt)
			if snd_buf.size() > 0:
				_parse_ack(sn)
				snd_una = snd_buf[0][SEG_SN] if snd_buf.size() > 0 else snd_nxt
			if not have_ack:
				have_ack = true
				maxack = sn
			elif _diff(sn, maxack) > 0:
				maxack = sn
		elif cmd == CMD_PUSH:
			# sn within the receive window: [rcv_nxt - 2^31, rcv_nxt + rcv_wnd).
			if ((sn - rcv_nxt - rcv_wnd + 0x80000000) & M32) < 0x80000000:
				acklist.append(sn)
				acklist.append(ts)
				if ((sn - rcv_nxt + 0x80000000) & M32) >= 0x80000000:
					var bytes
					if length > 0:
						bytes = _in.get_data(length)[1]
					else:
						bytes = _empty_bytes()
					if sn == rcv_nxt and rcv_buf.size() == 0 and rcv_queue.size() < rcv_wnd:
						# The next one, in order: straight to rcv_queue.
						rcv_queue.append([frg, sn, 0, 0, 0, 0, bytes])
						rcv_nxt = (rcv_nxt + 1) & M32
					else:
						_parse_data([frg, sn, 0, 0, 0, 0, bytes])
		elif cmd == CMD_WASK:
			probe |= ASK_TELL
		# CMD_WINS carries nothing but wnd, already taken above.
		pos += length
		_in.seek(pos)
	_in.data_array = _empty_bytes()
	if have_ack:
		_parse_fastack(maxack)
	if _diff(snd_una, prev_una) > 0 and cwnd < rmt_wnd:
		# Congestion window growth: slow start below ssthresh, then additive
		# increase (matters only with nc = 0).
		if cwnd < ssthresh:
			cwnd += 1
			incr += mss
		else:
			if incr < mss:
				incr = mss
			incr += (mss * mss) / incr + (mss / 16)
			if (cwnd + 1) * mss <= incr:
				cwnd = (incr + mss - 1) / mss
		if cwnd > rmt_wnd:
			cwnd = rmt_wnd
			incr = rmt_wnd * mss
	return result


# Call every few ms with the current time in ms (any origin; it may wrap past
# 2^32). Flushes at most once per interval.
func update(now_ms):
	current = now_ms & M32
	if not updated:
		updated = true
		ts_flush = current
	var slap = _diff(current, ts_flush)
	# A clock jump (or a long pause) resynchronises instead of flushing in a
	# burst to catch up.
	if slap >= 10000 or slap < -10000:
		ts_flush = current
		slap = 0
	if slap >= 0:
		ts_flush = (ts_flush + interval) & M32
		if _diff(current, ts_flush) >= 0:
			ts_flush = (current + interval) & M32
		flush()


# When update() must next be called (ms, same clock as now_ms): lets a caller
# sleep instead of polling. Input and send() make an earlier flush useful.
func check(now_ms):
	var cur = now_ms & M32
	if not updated:
		return cur
	var tsf = ts_flush
	var slap = _diff(cur, tsf)
	if slap >= 10000 or slap < -10000:
		tsf = cur
	if _diff(cur, tsf) >= 0:
		return cur
	var tm_flush = _diff(tsf, cur)
	var tm_packet = 0x7fffffff
	for seg in snd_buf:
		var d = _diff(seg[SEG_RESENDTS], cur)
		if d <= 0:
			return cur
		if d < tm_packet:
			tm_packet = d
	var minimal = int(min(tm_packet, tm_flush))
	if minimal >= interval:
		minimal = interval
	return (cur + minimal) & M32


# True when a flush at now_ms would send something: acks (unless acks is
# false), a window probe, queued data, or a segment due for its first send
# or a retransmission. When it is false, update() may be skipped: its flush
# would send nothing (the caller still sets `current` before input(), as
# update() would).
func has_output_due(now_ms, acks = true):
	if (acks and acklist.size() > 0) or probe != 0 or snd_queue.size() > 0 or rmt_wnd == 0:
		return true
	var cur = now_ms & M32
	for seg in snd_buf:
		if seg[SEG_XMIT] == 0 or _diff(cur, seg[SEG_RESENDTS]) >= 0:
			return true
		if fastresend > 0 and seg[SEG_FASTACK] >= fastresend and (seg[SEG_XMIT] <= fastlimit or fastlimit <= 0):
			return true
	return false


# Sends pending acks, window probes, new data and due retransmissions.
# update() calls it on schedule; calling it directly sends acks at once.
func flush():
	if not updated:
		return
	var wnd = _wnd_unused()
	for i in range(0, acklist.size(), 2):
		_emit(CMD_ACK, 0, wnd, acklist[i + 1], acklist[i], null)
	acklist.clear()

	# Remote window is zero: ask it for its window from time to time, since a
	# lost window update would otherwise stall us forever.
	if rmt_wnd == 0:
		if probe_wait == 0:
			probe_wait = PROBE_INIT
			ts_probe = (current + probe_wait) & M32
		elif _diff(current, ts_probe) >= 0:
			if probe_wait < PROBE_INIT:
				probe_wait = PROBE_INIT
			probe_wait += probe_wait / 2
			if probe_wait > PROBE_LIMIT:
				probe_wait = PROBE_LIMIT
			ts_probe = (current + probe_wait) & M32
			probe |= ASK_SEND
	else:
		ts_probe = 0
		probe_wait = 0
	if probe & ASK_SEND:
		_emit(CMD_WASK, 0, wnd, 0, 0, null)
	if probe & ASK_TELL:
		_emit(CMD_WINS, 0, wnd, 0, 0, null)
	probe = 0

	var cwnd_ = int(min(snd_wnd, rmt_wnd))
	if nocwnd == 0:
		cwnd_ = int(min(cwnd, cwnd_))
	while snd_queue.size() > 0 and _diff(snd_nxt, (snd_una + cwnd_) & M32) < 0:
		var seg = snd_queue.pop_front()
		seg[SEG_SN] = snd_nxt
		seg[SEG_RESENDTS] = current
		seg[SEG_RTO] = rx_rto
		seg[SEG_FASTACK] = 0
		seg[SEG_XMIT] = 0
		snd_buf.append(seg)
		snd_nxt = (snd_nxt + 1) & M32

	var resent = fastresend if fastresend > 0 else 0x7fffffff
	var rtomin = (rx_rto >> 3) if nodelay == 0 else 0
	var change = false
	var lost = false
	for seg in snd_buf:
		var needsend = false
		if seg[SEG_XMIT] == 0:
			needsend = true
			seg[SEG_XMIT] = 1
			seg[SEG_RTO] = rx_rto
			seg[SEG_RESENDTS] = (current + rx_rto + rtomin) & M32
		elif _diff(current, seg[SEG_RESENDTS]) >= 0:
			needsend = true
			seg[SEG_XMIT] += 1
			xmit += 1
			stat_timeout_resends += 1
			var rto = seg[SEG_RTO]
			if nodelay == 0:
				rto += int(max(rto, rx_rto))
			else:
				rto += (rto if nodelay < 2 else rx_rto) / 2
			seg[SEG_RTO] = rto
			seg[SEG_RESENDTS] = (current + rto) & M32
			lost = true
		elif seg[SEG_FASTACK] >= resent:
			if seg[SEG_XMIT] <= fastlimit or fastlimit <= 0:
				needsend = true
				seg[SEG_XMIT] += 1
				xmit += 1
				stat_fast_resends += 1
				seg[SEG_FASTACK] = 0
				seg[SEG_RESENDTS] = (current + seg[SEG_RTO]) & M32
				change = true
		if needsend:
			_emit(CMD_PUSH, seg[SEG_FRG], wnd, current, seg[SEG_SN], seg[SEG_DATA])
			if seg[SEG_XMIT] >= dead_link:
				state = -1
	_flush_datagram()

	if change:
		var inflight = _diff(snd_nxt, snd_una)
		ssthresh = inflight / 2
		if ssthresh < THRESH_MIN:
			ssthresh = THRESH_MIN
		cwnd = ssthresh + resent
		incr = cwnd * mss
	if lost:
		ssthresh = cwnd / 2
		if ssthresh < THRESH_MIN:
			ssthresh = THRESH_MIN
		cwnd = 1
		incr = mss
	if cwnd < 1:
		cwnd = 1
		incr = mss


# Test hook: starts the sequence numbers at sn (both directions must agree, so
# call it on both ends before any traffic). Lets tests cross the 2^32 wrap.
func debug_set_sequence(sn):
	snd_una = sn & M32
	snd_nxt = sn & M32
	rcv_nxt = sn & M32


# ---------------------------------------------------------------- internals

# Signed difference a - b of two u32 values, for wrap-safe comparisons.
static func _diff(a, b):
	var d = (a - b) & M32
	if d >= 0x80000000:
		d -= 0x100000000
	return d


# A fresh empty byte array each time: in Godot 4 byte arrays held in variables
# are shared references, so handing out one shared empty array is unsafe.
func _empty_bytes():
	return _nil.data_array


func _wnd_unused():
	if rcv_queue.size() < rcv_wnd:
		return rcv_wnd - rcv_queue.size()
	return 0


func _emit(cmd, frg, wnd, ts, sn, data):
	var n = 0
	if data != null:
		n = data.size()
	if _out.get_size() + OVERHEAD + n > mtu:
		_flush_datagram()
	# The header as three little-endian 64-bit words: conv cmd frg wnd, ts
	# sn, una len. A high half of 2^31 or more makes the word negative: it
	# is multiplied in as a negative number (a shift into the sign bit would
	# overflow).
	var hi = cmd | (frg << 8) | (wnd << 16)
	if hi >= 0x80000000:
		hi -= 0x100000000
	_out.put_64(conv + hi * 0x100000000)
	hi = sn
	if hi >= 0x80000000:
		hi -= 0x100000000
	_out.put_64(ts + hi * 0x100000000)
	_out.put_64(rcv_nxt + n * 0x100000000)
	if n > 0:
		_out.put_data(data)


func _flush_datagram():
	if _out.get_size() == 0:
		return
	var pkt = _out.data_array
	_out.clear()
	stat_out_datagrams += 1
	if _output_obj != null:
		_output_obj.call(_output_method, pkt)
	else:
		_output.append(pkt)


func _update_ack(rtt):
	# Smoothed RTT and variation as in RFC 6298 (gains 1/8 and 1/4).
	if rx_srtt == 0:
		rx_srtt = rtt
		rx_rttval = rtt / 2
	else:
		var delta = rtt - rx_srtt
		if delta < 0:
			delta = -delta
		rx_rttval = (3 * rx_rttval + delta) / 4
		rx_srtt = (7 * rx_srtt + rtt) / 8
		if rx_srtt < 1:
			rx_srtt = 1
	var rto = rx_srtt + int(max(interval, 4 * rx_rttval))
	rx_rto = int(clamp(rto, rx_minrto, RTO_MAX))


func _parse_ack(sn):
	if _diff(sn, snd_una) < 0 or _diff(sn, snd_nxt) >= 0:
		return
	for i in range(snd_buf.size()):
		var ssn = snd_buf[i][SEG_SN]
		if sn == ssn:
			# erase() by value: Array.remove(i) is remove_at(i) in Godot 4. The
			# first segment equal to this one is this one (sns differ).
			snd_buf.erase(snd_buf[i])
			return
		if _diff(sn, ssn) < 0:
			return


func _parse_fastack(sn):
	if _diff(sn, snd_una) < 0 or _diff(sn, snd_nxt) >= 0:
		return
	for seg in snd_buf:
		var ssn = seg[SEG_SN]
		if _diff(sn, ssn) < 0:
			break
		elif sn != ssn:
			seg[SEG_FASTACK] += 1


func _parse_data(newseg):
	var sn = newseg[SEG_SN]
	if _diff(sn, (rcv_nxt + rcv_wnd) & M32) >= 0 or _diff(sn, rcv_nxt) < 0:
		return
	# Insert in sn order, searching from the end since segments mostly arrive
	# in order; drop a duplicate.
	var i = rcv_buf.size() - 1
	while i >= 0:
		var ssn = rcv_buf[i][SEG_SN]
		if ssn == sn:
			return
		if _diff(sn, ssn) > 0:
			break
		i -= 1
	rcv_buf.insert(i + 1, newseg)
	_move_rcv_buf()


func _move_rcv_buf():
	while rcv_buf.size() > 0:
		var seg = rcv_buf[0]
		if seg[SEG_SN] == rcv_nxt and rcv_queue.size() < rcv_wnd:
			rcv_buf.pop_front()
			rcv_queue.append(seg)
			rcv_nxt = (rcv_nxt + 1) & M32
		else:
			break
