# How client.gd resumes a session (PROTOCOL.md section 9) when its link
# dies after the welcome (no datagram for link_timeout_ms, KCP gave up on a
# segment, a socket error, or the server timed the session out): it emits
# reconnecting, opens a new link (a new socket, so a new source port, and a
# new KCP conversation) and sends hello with its resume token and the tick
# of the last frame it processed, a few times within resume_timeout_ms. The
# server kept the player (same id, same room, shown to the others as away)
# and answers with a welcome, then a full frame with every event and chat
# line the lost link missed, once: reconnected, and the room view is
# replaced by that frame. If the server refuses (resume_failed) or time
# runs out, disconnected follows. Messages sent while reconnecting are
# queued and follow the hello; messages the lost link may have delivered
# are not sent again (they could arrive twice): stats["unacked_at_loss"]
# counts them. Apart from client.gd to keep it readable; it works on the
# client's own state. In the GDScript subset that both Godot 3.2+ and
# Godot 4.x accept.

const Protocol = preload("protocol.gd")

# client.gd's values (its constants are not reachable from here on both
# engines).
const STATUS_CONNECTED = 2
const STATUS_RECONNECTING = 3
const DISCONNECT_LINK_LOST = -2

# The link is dead while connected: resume, or end.
static func link_lost(c, reason, now):
	if c._opts["auto_resume"] and c.resume_token != "":
		begin(c, DISCONNECT_LINK_LOST, reason, now)
	else:
		c._fail(DISCONNECT_LINK_LOST, reason)


# Leaves the dead (or replaced) link without a word and starts resuming.
# keep_old (resume_now()): the link still works; it stays open, unread,
# until the resume is over, so that the relay sees no break.
static func begin(c, code, reason, now, keep_old = false):
	c._resume_pending = false
	c.status = STATUS_RECONNECTING
	c._gen += 1  # the link ended: a frame being applied stops here
	c._resume_why = [code, reason]
	c._resume_deadline = now + c._opts["resume_timeout_ms"]
	c._resume_attempt = 0
	# Messages that never left this side go again after the resuming hello;
	# those that may have arrived do not (they could arrive twice).
	c._resume_queue = []
	if c._link != null:
		c._resume_queue = c._link.take_unsent()
		c.stats["unacked_at_loss"] += c._link.unacked()
		if keep_old and c._old_link == null:
			c._old_link = c._link
			c._link = null
	c._close_link()
	c.stats["resumes"] += 1
	var gen = c._gen
	c._emit2("reconnecting", code, reason)
	if c._gen == gen and c.status == STATUS_RECONNECTING:
		start_attempt(c, now)


# One resume attempt: a new link (a new socket, so a new source port, and a
# new KCP conversation), hello with the resume token and the last processed
# tick, then what was sent since the link was lost.
static func start_attempt(c, now):
	c._resume_attempt += 1
	c.stats["resume_attempts"] += 1
	c._next_attempt_ms = now + c._opts["resume_timeout_ms"] / int(max(1, c._opts["resume_attempts"]))
	c._close_link()
	var link = c._make_link()
	if link == null or link.open(now) != OK:
		return  # no network yet: the next attempt tries again
	c._link = link
	var auth = c._opts["auth_token"]
	if auth == null:
		auth = ""
	c._link.send(c._proto.encode_hello(str(c._opts["name"]), null, str(auth), c.resume_token, c._acked_tick))
	for f in c._resume_queue:
		c._link.send(f)
	c._last_recv_ms = now
	if not c._link.flush_now(now):
		c._close_link()


# While reconnecting: starts the next attempt when this one is over, or gives
# up at the deadline. Returns false when poll() has nothing more to do.
static func poll(c, now):
	if c.status != STATUS_RECONNECTING:
		return false
	if now >= c._resume_deadline:
		c._fail(c._resume_why[0], "could not resume the session within %d ms (%d attempts); the link was lost: %s" % [
			c._opts["resume_timeout_ms"], c._resume_attempt, c._resume_why[1]])
		return false
	if c._resume_pending:
		c._resume_pending = false
		start_attempt(c, now)
	elif now >= c._next_attempt_ms and c._resume_attempt < c._opts["resume_attempts"] and not attempt_pending(c, now):
		start_attempt(c, now)
	return c._link != null


# The current attempt is under way on a link known to reach the relay (a
# WebSocket past its handshake): its hello has gone or goes at this poll,
# and the answer comes back on the same reliable stream. The relay may
# already have spent the resume token on it, so a new attempt could only be
# refused: this one ends when its link does, or after link_timeout_ms
# without a word (or at the resume's deadline). Over KCP nothing tells, and
# attempts follow each other at their interval.
static func attempt_pending(c, now):
	return c._link != null and c._link.is_established() and now - c._last_recv_ms < c._opts["link_timeout_ms"]


# The welcome on a resuming connection.
static func on_resumed(c, m, now_us):
	if not m.resumed or m.player_id != c.player_id:
		# The server started a new session instead (it cannot resume): end
		# that one too, and report the old one as lost.
		c._bye(Protocol.CODE_RESUME_FAILED, "the server did not resume the session")
		return
	c.status = STATUS_CONNECTED
	c.resume_token = m.resume_token
	c.tick_rate = m.tick_rate
	if c._link != null:
		c._link.set_tick_rate(c.tick_rate)
	c._close_old_link()  # replaced by the relay
	c.server_tick = m.tick
	c._tick_base = m.tick
	c._tick_base_ms = m.server_time_ms
	c._next_ping_ms = 0
	c._last_recv_ms = now_us / 1000
	c._resume_queue = []
	# The state may have been lost with the old link: send the latest again.
	if c._pending_state != null:
		c._state_dirty = true
	var gen = c._gen
	var left = c.room_id != 0 and m.room_id == 0
	if left:
		c._clear_room()
	elif m.room_id != c.room_id:
		c.room_id = m.room_id  # the full frame that follows fills it in
	c._emit0("reconnected")
	if left and c._gen == gen:
		c._emit1("room_left", 0)
