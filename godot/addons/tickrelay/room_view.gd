# The room view of client.gd, and how the server's frames update it: the
# members, master, lock, properties, presence and states of this player's
# room, and the events and chat of each frame, emitted as signals in the
# order a frame lists them. client.gd extends this file (one object: the
# split only keeps each file readable); its signals are declared there. In
# the GDScript subset that both Godot 3.2+ and Godot 4.x accept (see
# godot/README.md).

# Tick of the last frame received.
var server_tick = 0

# The room view. room_id is 0 in no room.
var room_id = 0
var room_code = ""
var room_mode = ""
var room_max_players = 0
var master_id = 0
var locked = false
var room_props = {}
# player id -> {"id", "name", "props", "state", "state_tick", "connected"};
# "state" is null until the player sets one.
var players = {}

# Optional: an object with push(id, value, tick), forget(id) and clear()
# (interpolation.gd) that receives every state.
var interpolator = null
# Optional: every signal is also emitted on this object (relay_node.gd sets
# itself, so that games connect to the autoload).
var signal_target = null

var _proto  # protocol.gd: made by client.gd
var _gen = 0  # bumped whenever a connection ends, so callers of signals can tell
var _tick_base = 0  # a tick and its server time, for estimated_server_tick()
var _tick_base_ms = 0
# Tick of the last frame whose signals were all emitted: sent in pings
# (acked_tick) and in a resuming hello (last_tick).
var _acked_tick = 0


func is_in_room():
	return room_id != 0


# A state value as received with the option decode_states = false (msgpack
# bytes) decoded; null if the bytes are not one valid value. With
# decode_states = true (values already decoded) it returns value as it is.
func decode_state(value):
	if not _proto.lazy_states or typeof(value) != _proto.mp._t_bytes:
		return value
	var r = _proto.mp.decode(value)
	if not r.ok:
		return null
	return r.value


func _clear_room():
	room_id = 0
	room_code = ""
	room_mode = ""
	room_max_players = 0
	master_id = 0
	locked = false
	room_props = {}
	players = {}
	if interpolator != null:
		interpolator.clear()


func _new_player(id, pname, props):
	return {"id": id, "name": pname, "props": props if props != null else {}, "state": null, "state_tick": 0, "connected": true}


func _apply_frame(f):
	var tick = f.tick
	server_tick = tick
	_tick_base = tick
	_tick_base_ms = f.server_time_ms
	var gen = _gen
	var r = f.room
	if r != null:
		if r.full or r.room_id != room_id:
			_apply_full(r, tick)
		else:
			_apply_delta(r, tick)
		if _gen != gen:
			return
	for e in f.events:
		_emit4("event_received", e[1], e[2], e[3], e[0])
		if _gen != gen:
			return
	for c in f.chat:
		if c.size() >= 6 and c[4] != "":
			_emit4("channel_message", c[4], c[0], c[5], c[3])
		else:
			_emit4("chat_received", c[0], c[1], c[3], c[2])
		if _gen != gen:
			return
	for pk in f.packets:
		_emit4("peer_packet_received", pk[0], pk[1], pk[2], pk[3])
		if _gen != gen:
			return
	_acked_tick = tick


func _apply_delta(r, tick):
	var gen = _gen
	for id in r.leaves:
		if players.has(id):
			players.erase(id)
			if interpolator != null:
				interpolator.forget(id)
			_emit1("player_left", id)
			if _gen != gen:
				return
	for j in r.joins:
		var p = _new_player(j[0], j[1], j[2])
		players[j[0]] = p
		_emit3("player_joined", j[0], j[1], p.props)
		if _gen != gen:
			return
	_apply_common(r, tick, false)


func _apply_full(r, tick):
	var gen = _gen
	if r.room_id != room_id:
		# Not announced by room_joined (should not happen): adopt it.
		room_id = r.room_id
	var old = players
	players = {}
	for j in r.joins:
		var p = _new_player(j[0], j[1], j[2])
		if old.has(j[0]):
			p.state = old[j[0]].state
			p.state_tick = old[j[0]].state_tick
			p.connected = old[j[0]].connected
		players[j[0]] = p
	for id in old:
		if not players.has(id):
			if interpolator != null:
				interpolator.forget(id)
			_emit1("player_left", id)
			if _gen != gen:
				return
	for j in r.joins:
		var p = players.get(j[0])
		if p == null:
			continue
		if old.has(j[0]):
			_emit2("player_props_changed", j[0], p.props)
		else:
			_emit3("player_joined", j[0], j[1], p.props)
		if _gen != gen:
			return
	if r.props == null:
		r.props = {}
	_apply_common(r, tick, true)


func _apply_common(r, tick, full):
	var gen = _gen
	for pp in r.player_props:
		if players.has(pp[0]):
			var props = pp[1] if pp[1] != null else {}
			players[pp[0]].props = props
			_emit2("player_props_changed", pp[0], props)
			if _gen != gen:
				return
	if r["master"] != master_id:
		master_id = r["master"]
		_emit1("master_changed", master_id)
		if _gen != gen:
			return
	if r.locked != locked:
		locked = r.locked
		_emit1("locked_changed", locked)
		if _gen != gen:
			return
	if r.props != null:
		room_props = r.props
		_emit1("room_props_changed", room_props)
		if _gen != gen:
			return
	if full:
		# A full frame lists every member that is away: the others are here.
		var away = {}
		if r.presence != null:
			for pr in r.presence:
				if not pr[1]:
					away[pr[0]] = true
		for id in players.keys():
			var p = players.get(id)
			var here = not away.has(id)
			if p != null and p.connected != here:
				p.connected = here
				_emit2("player_presence_changed", id, here)
				if _gen != gen:
					return
	elif r.presence != null:
		for pr in r.presence:
			var p = players.get(pr[0])
			if p != null and p.connected != pr[1]:
				p.connected = pr[1]
				_emit2("player_presence_changed", pr[0], pr[1])
				if _gen != gen:
					return
	# The hot loop of a busy room (one row per member and tick): the emits
	# are inlined, and the objects it calls are read once.
	var interp = interpolator
	var target = signal_target
	var lazy = _proto.lazy_states
	for s in r.states:
		var id = s[0]
		var p = players.get(id)
		if p == null:
			continue
		var v = s[1]
		p["state"] = v
		p["state_tick"] = tick
		if interp != null:
			if lazy:
				interp.push(id, decode_state(v), tick)
			else:
				interp.push(id, v, tick)
		emit_signal("state_received", id, v, tick)
		if target != null:
			target.emit_signal("state_received", id, v, tick)
		if _gen != gen:
			return


# Signals go to this object's listeners and, when set, signal_target's.
func _emit0(sig):
	emit_signal(sig)
	if signal_target != null:
		signal_target.emit_signal(sig)


func _emit1(sig, a):
	emit_signal(sig, a)
	if signal_target != null:
		signal_target.emit_signal(sig, a)


func _emit2(sig, a, b):
	emit_signal(sig, a, b)
	if signal_target != null:
		signal_target.emit_signal(sig, a, b)


func _emit3(sig, a, b, c):
	emit_signal(sig, a, b, c)
	if signal_target != null:
		signal_target.emit_signal(sig, a, b, c)


func _emit4(sig, a, b, c, d):
	emit_signal(sig, a, b, c, d)
	if signal_target != null:
		signal_target.emit_signal(sig, a, b, c, d)
