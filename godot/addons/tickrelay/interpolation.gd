# Smooth remote players: buffers each player's states by the server tick of
# the frame that carried them and returns, at render time, the value a little
# in the past (delay_ms), blended between the two states around that moment.
# In the GDScript subset that both Godot 3.2+ and Godot 4.x accept.
#
#     var interp = preload("res://addons/tickrelay/interpolation.gd").new()
#     interp.tick_rate = client.tick_rate      # from the welcome
#     client.interpolator = interp             # the client pushes every state
#     # each frame, for each remote player id:
#     var s = interp.sample(id, client.estimated_server_tick())
#
# Blending (blend()): floats, Vector2, Vector3 and Color are interpolated
# linearly; Dictionaries field by field and Arrays of equal size element by
# element (recursively); integers, strings, bools and anything else step:
# the older value holds until the newer one's tick. Give integers that should
# move smoothly as floats.
#
# Ticks are the time axis, so it works at any tick rate. States are only in
# the frames where they changed: a gap of more than max_gap_ms between two
# states means the player stood still, and the older value is held until the
# tick before the newer one (instead of gliding across the whole gap).

# How far behind the estimated server tick to render. About 100 ms (3 ticks at
# 30 Hz) hides the jitter and loss of most paths; lower it for LAN games.
var delay_ms = 100.0
# The server's tick rate (frames per second): from the client's welcome.
var tick_rate = 30
# A longer gap between two states is treated as standing still.
var max_gap_ms = 250.0
# States kept per player (older ones are dropped as rendering passes them).
var max_samples = 128

var _ticks = {}  # id -> Array of ticks, ascending
var _values = {}  # id -> Array of values, same order
var _t_float
var _t_vector2
var _t_vector3
var _t_color
var _t_dict
var _t_array


func _init():
	_t_float = typeof(1.5)
	_t_vector2 = typeof(Vector2())
	_t_vector3 = typeof(Vector3())
	_t_color = typeof(Color())
	_t_dict = typeof({})
	_t_array = typeof([])


# Adds a state of player id carried by the frame of server tick `tick`. A
# state for a tick already buffered replaces it; an older one is ignored.
func push(id, value, tick):
	var ticks = _ticks.get(id)
	if ticks == null:
		_ticks[id] = [tick]
		_values[id] = [value]
		return
	var values = _values[id]
	var n = ticks.size()
	var last = ticks[n - 1]
	if tick < last:
		return
	if tick == last:
		values[n - 1] = value
		return
	var gap = max_gap_ms * tick_rate / 1000.0  # _gap_ticks(), inlined
	if gap < 1.0:
		gap = 1.0
	if tick - last > gap and tick - 1 > last:
		# The player stood still since `last`: hold its value until just
		# before this state.
		ticks.append(tick - 1)
		values.append(values[n - 1])
	ticks.append(tick)
	values.append(value)
	while ticks.size() > max_samples:
		ticks.pop_front()
		values.pop_front()


# The value of player id at server tick `now_tick` (a float, e.g. the
# client's estimated_server_tick()) minus delay_ms; null for an unknown player.
func sample(id, now_tick):
	return sample_at(id, now_tick - delay_ms * tick_rate / 1000.0)


# The value of player id at render tick `render_tick` (no delay applied).
# Before the first state: the first state; after the last: the last (no
# extrapolation).
func sample_at(id, render_tick):
	var ticks = _ticks.get(id)
	if ticks == null:
		return null
	var values = _values[id]
	# States the render time has passed for good are no longer needed; keep
	# the one just before it.
	while ticks.size() >= 2 and ticks[1] <= render_tick:
		ticks.pop_front()
		values.pop_front()
	if ticks.size() == 1 or render_tick <= ticks[0]:
		return values[0]
	var t0 = ticks[0]
	var t = (render_tick - t0) / ((ticks[1] - t0) * 1.0)
	return blend(values[0], values[1], t)


# The newest state of player id, or null.
func latest(id):
	var values = _values.get(id)
	if values == null:
		return null
	return values[values.size() - 1]


func has_player(id):
	return _ticks.has(id)


func player_ids():
	return _ticks.keys()


# Buffered states of player id.
func sample_count(id):
	var ticks = _ticks.get(id)
	return 0 if ticks == null else ticks.size()


func forget(id):
	_ticks.erase(id)
	_values.erase(id)


func clear():
	_ticks = {}
	_values = {}


# a blended towards b by t in [0, 1] (see the header for the rules).
func blend(a, b, t):
	var ta = typeof(a)
	var tb = typeof(b)
	if ta == _t_float or tb == _t_float:
		if (ta == _t_float or ta == TYPE_INT) and (tb == _t_float or tb == TYPE_INT):
			return a + (b - a) * t
		return a if t < 1.0 else b
	if ta != tb:
		return a if t < 1.0 else b
	if ta == _t_vector2 or ta == _t_vector3:
		return a + (b - a) * t
	if ta == _t_color:
		return Color(a.r + (b.r - a.r) * t, a.g + (b.g - a.g) * t, a.b + (b.b - a.b) * t, a.a + (b.a - a.a) * t)
	# In containers, two floats or two integers (most of a game state) are
	# blended here rather than by a call: a GDScript call costs more than
	# the arithmetic.
	if ta == _t_dict:
		if t >= 1.0:
			return b
		var out = {}
		for k in a:
			var x = a[k]
			var y = b.get(k)
			if y == null and not b.has(k):
				out[k] = x
				continue
			var tx = typeof(x)
			var ty = typeof(y)
			if tx == _t_float and ty == _t_float:
				out[k] = x + (y - x) * t
			elif tx == TYPE_INT and ty == TYPE_INT:
				out[k] = x  # t < 1 here
			else:
				out[k] = blend(x, y, t)
		return out
	if ta == _t_array:
		var n = a.size()
		if n != b.size():
			return a if t < 1.0 else b
		var out = []
		out.resize(n)
		for i in range(n):
			var x = a[i]
			var y = b[i]
			var tx = typeof(x)
			var ty = typeof(y)
			if tx == _t_float and ty == _t_float:
				out[i] = x + (y - x) * t
			elif tx == TYPE_INT and ty == TYPE_INT:
				out[i] = x if t < 1.0 else y
			else:
				out[i] = blend(x, y, t)
		return out
	return a if t < 1.0 else b


func _gap_ticks():
	var g = max_gap_ms * tick_rate / 1000.0
	return g if g > 1.0 else 1.0
