# The client's own cost in a busy room: client.gd polled at 60 frames per
# second in a room of 16 players at 30 Hz whose 15 others (Go bots, see
# godot/enginetest/cost_test.go) set a ~64-byte state every tick. Measures the
# script time of each poll() (plus set_state of this player's own state, as a
# game does every frame) with the engine's microsecond clock, split into the
# polls that applied a frame and the others, and separately the interpolation
# of the 15 remote states per frame. Also prints, for comparison across
# machines, the hot decode of a fixed frame (ref_decode_us with protocol.gd,
# ref_generic_us as a generic msgpack decode) and what waking up after a
# frame's sleep adds to the first script that runs (wake_us).
#
#   godot3-server --no-window --path PROJECT -s res://tests/client_cost_test.gd -- \
#       --host=127.0.0.1 --port=N --code=ABCDEF [--players=16] [--seconds=5] [--fps=60] \
#       [--decode_states=0 --interp=0] [--state_per_tick=0] [--coalesce_sends=0]
#
# --decode_states=0 connects with the option decode_states = false (states
# stay bytes until decode_state()); --interp=0 drops the interpolator once the
# states flow (no push() in poll(), no sample() per frame): together, a game
# that reads only a few of the states it receives. --state_per_tick=0 sends
# this player's state at every poll instead of once per server tick;
# --coalesce_sends=0 acknowledges each frame in the poll that received it.
extends SceneTree

const Client = preload("res://addons/tickrelay/client.gd")
const Interpolation = preload("res://addons/tickrelay/interpolation.gd")

# The bound on the script's cost per frame (poll, set_state, the
# interpolations and the loop): the requirement is "well under 1 ms", and
# a run here measures a median of 0.3-0.4 ms, quiet or loaded.
const MAX_FRAME_COST_US = 1000

var h
var c
var states_in = 0
var states_checked = 0  # the first states, decoded (decode_state()) and checked
var states_bad = 0


func _init():
	h = preload("res://tests/harness.gd").new()
	var a = h.args()
	var port = int(a.get("port", "0"))
	var code = a.get("code", "")
	var nplayers = int(a.get("players", "16"))
	var seconds = int(a.get("seconds", "5"))
	var fps = int(a.get("fps", "60"))
	var decode_states = a.get("decode_states", "1") != "0"
	var use_interp = a.get("interp", "1") != "0"
	var per_tick = a.get("state_per_tick", "1") != "0"
	var coalesce = a.get("coalesce_sends", "1") != "0"
	if not h.check(port > 0 and code != "", "--port and --code are required"):
		h.finish(self)
		return
	c = Client.new()
	var interp = Interpolation.new()
	c.interpolator = interp
	h.connect_signal(c, "state_received", self, "_on_state")
	h.check(c.connect_to_server(a.get("host", "127.0.0.1"), port, {"name": "godot", "decode_states": decode_states, "state_per_tick": per_tick, "coalesce_sends": coalesce}) == OK, "connect")

	# Join and wait until every bot's state is flowing.
	var deadline = h.now_msec() + 15000
	var joined = false
	while true:
		c.poll()
		if not joined and c.is_connected_to_server():
			c.join_by_code(code)
			joined = true
		if c.players.size() == nplayers and interp.player_ids().size() >= nplayers - 1:
			break
		if h.now_msec() > deadline or c.status == Client.STATUS_DISCONNECTED:
			h.check(false, "never saw %d players with states: %d players, %d with states" % [nplayers, c.players.size(), interp.player_ids().size()])
			h.finish(self)
			return
		OS.delay_msec(2)
	interp.tick_rate = c.tick_rate
	if not use_interp:
		c.interpolator = null

	var frame_us = 1000000 / fps
	var frames = seconds * fps
	var poll_us = []
	var interp_us = []
	var frame_poll_us = []  # the polls that applied a frame, and the others
	var idle_poll_us = []
	var frames0 = c.stats["frames"]
	var sent0 = c.stats["states_sent"]
	var bytes0 = c.stats["bytes_in"]
	states_in = 0
	var cpu0 = thread_cpu_ns()
	var next = h.now_usec()
	var start = next
	var pos = Vector2(0, 0)
	for f in range(frames):
		pos += Vector2(1.5, 0.5)
		var nframes0 = c.stats["frames"]
		var t0 = h.now_usec()
		c.set_state({"pos": pos, "vel": Vector2(1.5, 0.5), "anim": 2, "hp": 100})
		c.poll()
		var t1 = h.now_usec()
		var tick = c.estimated_server_tick()
		if use_interp:
			for id in c.players:
				if id != c.player_id:
					interp.sample(id, tick)
		var t2 = h.now_usec()
		poll_us.append(t1 - t0)
		if c.stats["frames"] != nframes0:
			frame_poll_us.append(t1 - t0)
		else:
			idle_poll_us.append(t1 - t0)
		interp_us.append(t2 - t1)
		next += frame_us
		var wait = next - h.now_usec()
		if wait > 0:
			OS.delay_usec(wait)
	var elapsed_ms = (h.now_usec() - start) / 1000
	var nstates = states_in
	var cpu1 = thread_cpu_ns()
	var nframes = c.stats["frames"] - frames0
	var nsent = c.stats["states_sent"] - sent0
	var kbytes = (c.stats["bytes_in"] - bytes0) / 1024.0
	h.check(c.is_connected_to_server(), "still connected")
	h.check(states_checked > 0 and states_bad == 0, "%d of the first %d states not a state once decoded" % [states_bad, states_checked])
	# A sanity floor only: frames flowed. A loaded machine makes the relay
	# skip ticks (overruns) and hold back frames from a client whose acks
	# come late, so the count says more about the machine than the client.
	h.check(nframes >= seconds * c.tick_rate / 4, "%d server frames in %d s (sanity floor: a quarter of the ticks)" % [nframes, seconds])
	# Bots and ticks are not in phase: a bot's state can miss a tick and
	# land twice in the next one. Half the nominal load is the floor.
	h.check(nstates >= nframes * (nplayers - 1) / 2, "%d states in %d frames" % [nstates, nframes])
	# A new state every poll, sent at most once per server tick (one frame
	# arrives per tick): about one per frame, not one per poll.
	# A frame the relay skipped (the client behind on a loaded machine) lets
	# the state go after two ticks without one: at most one per tick.
	if per_tick:
		h.check(nsent <= elapsed_ms * c.tick_rate / 1000 + 2 and nsent >= nframes / 2, "%d states sent in %d polls (%d ms) with %d server frames" % [nsent, frames, elapsed_ms, nframes])
	else:
		h.check(nsent >= frames - 2, "state_per_tick off: %d states sent in %d polls" % [nsent, frames])
	var p = stats_of(poll_us)
	var q = stats_of(interp_us)
	# The wall clock above also counts time the engine's thread waited for a
	# CPU (other processes, the Go side of this test). The thread's own CPU
	# time over the whole loop (Linux schedstat, accurate to a few ms over the
	# run) bounds the script's real cost per frame: poll, set_state, the 15
	# interpolations and the loop itself.
	var ref = reference_us()
	var wake = wake_penalty_us(c, 60, frame_us)
	var fp = stats_of(frame_poll_us)
	var ip = stats_of(idle_poll_us)
	var cpu_per_frame = -1.0
	if cpu0 >= 0 and cpu1 >= 0:
		cpu_per_frame = (cpu1 - cpu0) / 1000.0 / poll_us.size()
	# What this test is for: the script's cost per frame stays well under
	# 1 ms. The median poll (set_state + poll(), wall clock) is what a game
	# pays in a typical frame and is robust to the frames in which the
	# engine waited for a CPU on a loaded machine (the mean and p99 are
	# not). The thread's CPU time per frame (poll, the interpolations, the
	# loop; no waiting counted, but slower caches under load) must stay
	# within twice the bound: a gross regression fails it on any machine.
	h.check(p[1] < MAX_FRAME_COST_US, "median poll %d us, over the %d us bound" % [p[1], MAX_FRAME_COST_US])
	h.check(cpu_per_frame < 2.0 * MAX_FRAME_COST_US, "script CPU time per frame %.0f us, over twice the %d us bound" % [cpu_per_frame, MAX_FRAME_COST_US])
	print("cost: polls=%d mean_us=%.1f p50_us=%d p99_us=%d max_us=%d frame_polls=%d frame_poll_mean_us=%.1f idle_poll_mean_us=%.1f interp_mean_us=%.1f interp_p99_us=%d decode_states=%s cpu_per_frame_us=%.1f ref_decode_us=%d ref_generic_us=%d wake_us=%d frames=%d states=%d kib_in=%.0f elapsed_ms=%d players=%d tick_rate=%d states_sent=%d" % [
		poll_us.size(), p[0], p[1], p[2], p[3], frame_poll_us.size(), fp[0], ip[0], q[0], q[2], decode_states, cpu_per_frame, ref[0], ref[1], wake, nframes, nstates, kbytes, elapsed_ms, c.players.size(), c.tick_rate, nsent])
	# The last state set is the one the relay ends up with (and echoes).
	var echo_end = h.now_msec() + 2000
	var mine = null
	while h.now_msec() < echo_end:
		c.poll()
		mine = c.decode_state(c.players[c.player_id].state) if c.players.has(c.player_id) else null
		if typeof(mine) == typeof({}) and mine.get("pos") == pos:
			break
		OS.delay_msec(2)
	h.check(typeof(mine) == typeof({}) and mine.get("pos") == pos, "own state echo %s, want the last one set (pos %s)" % [str(mine), str(pos)])
	c.disconnect_from_server()
	var end = h.now_msec() + 1000
	while c.is_socket_open() and h.now_msec() < end:
		c.poll()
		OS.delay_msec(2)
	h.finish(self)


# How fast this machine runs GDScript right now: the median time to decode a
# fixed 1 KB frame of 15 bot states (the bulk of a poll that gets a frame),
# hot: with protocol.gd (its frame reader), and as a generic msgpack decode
# of the same bytes. Lets a reader compare runs made on machines of different
# speed or load.
func reference_us():
	var mp = preload("res://addons/tickrelay/msgpack.gd").new()
	var p = preload("res://addons/tickrelay/protocol.gd").new()
	var states = []
	for i in range(15):
		states.append([i + 1, {"pos": [i * 100.5, 200.25], "vel": [15.0, -3.5], "anim": 3, "hp": 100, "seq": 40000 + i}])
	var body = mp.encode([40, 123456, 1700000000000, [7, false, 1, false, null, [], [], [], states], [], []])
	var runs = []
	var generic = []
	for i in range(21):
		var t0 = h.now_usec()
		p.decode_server(body)
		var t1 = h.now_usec()
		mp.decode(body)
		runs.append(t1 - t0)
		generic.append(h.now_usec() - t1)
	runs.sort()
	generic.sort()
	return [runs[10], generic[10]]


# What this machine adds to the first script that runs after the engine slept
# for a frame: the median, over n sleeps of a frame, of the time to encode
# this client's state right after the sleep minus the time to encode it again
# at once. A game's own frame work (input, physics, its scripts) usually
# runs first and takes it; here the poll does.
func wake_penalty_us(c, n, frame_us):
	var p = preload("res://addons/tickrelay/protocol.gd").new()
	var state = {"pos": Vector2(1, 2), "vel": Vector2(1.5, 0.5), "anim": 2, "hp": 100}
	var d = []
	for i in range(n):
		OS.delay_usec(frame_us)
		var t0 = h.now_usec()
		p.encode_state(state)
		var t1 = h.now_usec()
		p.encode_state(state)
		var t2 = h.now_usec()
		d.append((t1 - t0) - (t2 - t1))
		c.poll()  # keep the connection serviced
	d.sort()
	return d[n / 2]


# [mean, p50, p99, max]
func stats_of(samples):
	if samples.size() == 0:
		return [0.0, 0, 0, 0]
	var s = samples.duplicate()
	s.sort()
	var total = 0
	for x in s:
		total += x
	var n = s.size()
	return [total * 1.0 / n, s[n / 2], s[int(min(n - 1, n * 99 / 100))], s[n - 1]]


func _on_state(_id, value, _tick):
	states_in += 1
	if states_checked < 20:
		states_checked += 1
		var v = c.decode_state(value)
		if typeof(v) != typeof({}) or not v.has("pos"):
			states_bad += 1


# Time the engine's main thread has spent on a CPU, in ns (Linux schedstat;
# updated at scheduler ticks, so accurate to a few ms over a run), or -1.
# Unlike the wall clock it does not count time spent waiting for a CPU.
func thread_cpu_ns():
	if not ClassDB.class_exists("_File"):  # Godot 3's File; this test runs on 3
		return -1
	var f = ClassDB.call("instance", "_File")
	if f.open("/proc/thread-self/schedstat", 1) != OK:  # File.READ
		return -1
	# /proc files read as length 0: get_as_text() would return nothing.
	var l = f.get_line()
	f.close()
	if l == "":
		return -1
	return h.parse_int(l.split(" ")[0])
