# interpolation.gd: blending rules, buffering by tick, the render delay at
# several tick rates, gaps (standing still), and a cost figure.
#
#   godot3-server --no-window --path PROJECT -s res://tests/interpolation_test.gd
extends SceneTree

const Interpolation = preload("res://addons/tickrelay/interpolation.gd")

var h


func _init():
	h = preload("res://tests/harness.gd").new()
	test_blend()
	test_buffer()
	test_tick_rates()
	test_gaps()
	bench()
	h.finish(self)


func near(a, b):
	return abs(a - b) < 1e-6


func test_blend():
	var it = Interpolation.new()
	h.check(near(it.blend(1.0, 3.0, 0.25), 1.5), "float")
	h.check(near(it.blend(1, 3.0, 0.5), 2.0), "int and float lerp as floats")
	h.check(it.blend(1, 3, 0.5) == 1 and it.blend(1, 3, 1.0) == 3, "ints step")
	h.check(it.blend(Vector2(0, 0), Vector2(10, -20), 0.5) == Vector2(5, -10), "Vector2")
	h.check(it.blend(Vector3(0, 0, 0), Vector3(10, -20, 4), 0.25) == Vector3(2.5, -5, 1), "Vector3")
	var col = it.blend(Color(0, 0, 0, 1), Color(1, 0.5, 0, 0), 0.5)
	h.check(near(col.r, 0.5) and near(col.g, 0.25) and near(col.b, 0) and near(col.a, 0.5), "Color: %s" % str(col))
	h.check(it.blend("a", "b", 0.9) == "a" and it.blend("a", "b", 1.0) == "b", "strings step")
	h.check(it.blend(true, false, 0.5) == true, "bools step")
	h.check(it.blend(null, 1.0, 0.5) == null, "null steps")
	h.check(it.blend(1.0, "x", 0.5) == 1.0, "mixed types step")
	var d = it.blend({"pos": Vector2(0, 0), "hp": 10, "anim": "run", "only_a": 1.0}, {"pos": Vector2(2, 2), "hp": 5, "anim": "jump", "only_b": 2}, 0.5)
	h.check(d.pos == Vector2(1, 1) and d.hp == 10 and d.anim == "run" and d.only_a == 1.0 and not d.has("only_b"), "Dictionary field by field: %s" % str(d))
	var a = it.blend([0.0, Vector2(0, 0), "x", [0.0, 10.0]], [1.0, Vector2(4, 0), "y", [1.0, 20.0]], 0.5)
	h.check(near(a[0], 0.5) and a[1] == Vector2(2, 0) and a[2] == "x" and near(a[3][0], 0.5) and near(a[3][1], 15.0), "Array element by element: %s" % str(a))
	h.check(it.blend([1.0], [1.0, 2.0], 0.5) == [1.0], "Arrays of different sizes step")


func test_buffer():
	var it = Interpolation.new()
	it.tick_rate = 10  # 100 ms per tick
	it.delay_ms = 100.0  # one tick
	h.check(it.sample(1, 10.0) == null, "unknown player")
	it.push(1, 0.0, 10)
	h.check(it.sample(1, 5.0) == 0.0 and it.sample(1, 50.0) == 0.0, "one state holds")
	it.push(1, 10.0, 11)
	it.push(1, 20.0, 12)
	it.push(1, 99.0, 11)  # older than the newest: ignored
	h.check(it.latest(1) == 20.0, "latest")
	h.check(near(it.sample(1, 11.5), 5.0), "delay of one tick: tick 10.5 -> 5.0, got %s" % str(it.sample(1, 11.5)))
	h.check(near(it.sample_at(1, 11.25), 12.5), "sample_at 11.25: %s" % str(it.sample_at(1, 11.25)))
	h.check(it.sample_at(1, 20.0) == 20.0, "no extrapolation past the newest")
	it.push(1, 25.0, 12)  # same tick: replaces
	h.check(it.latest(1) == 25.0, "same tick replaces")
	h.check(it.sample_count(1) <= 3, "passed states are dropped: %d" % it.sample_count(1))
	for i in range(200):
		it.push(2, i * 1.0, i + 1)
	h.check(it.sample_count(2) == it.max_samples, "bounded buffer: %d" % it.sample_count(2))
	it.forget(2)
	h.check(not it.has_player(2) and it.has_player(1), "forget")
	it.clear()
	h.check(it.player_ids().size() == 0, "clear")


# The same motion (1 unit per ms of server time) sampled at several tick rates
# renders the same position for the same delay in ms.
func test_tick_rates():
	for rate in [10, 20, 30, 60, 128]:
		var it = Interpolation.new()
		it.tick_rate = rate
		it.delay_ms = 100.0
		var ms_per_tick = 1000.0 / rate
		for t in range(0, 2 * rate + 1):
			it.push(7, t * ms_per_tick, t)
		# At server tick 2*rate (2000 ms), the render time is 1900 ms.
		var v = it.sample(7, 2.0 * rate)
		h.check(abs(v - 1900.0) < 0.01, "%d Hz: rendered %.3f, want 1900" % [rate, v])


func test_gaps():
	var it = Interpolation.new()
	it.tick_rate = 30
	it.max_gap_ms = 250.0  # 7.5 ticks
	it.push(1, Vector2(0, 0), 100)
	it.push(1, Vector2(100, 0), 200)  # stood still from 100 to 199
	h.check(it.sample_at(1, 150.0) == Vector2(0, 0), "a long gap holds the old value: %s" % str(it.sample_at(1, 150.0)))
	h.check(it.sample_at(1, 199.5) == Vector2(50, 0), "then moves in the last tick: %s" % str(it.sample_at(1, 199.5)))
	var it2 = Interpolation.new()
	it2.tick_rate = 30
	it2.push(1, 0.0, 100)
	it2.push(1, 30.0, 103)  # a 10 Hz sender: short gaps glide
	h.check(near(it2.sample_at(1, 101.0), 10.0), "short gaps interpolate: %s" % str(it2.sample_at(1, 101.0)))


func bench():
	var it = Interpolation.new()
	it.tick_rate = 30
	for t in range(100, 110):
		for id in range(1, 16):
			it.push(id, {"pos": Vector2(t, id), "vel": Vector2(1, 0), "anim": "run", "hp": 100}, t)
	var t0 = h.now_usec()
	var n = 0
	for frame in range(60):
		for id in range(1, 16):
			it.sample(id, 105.0 + frame / 60.0 * 3.0)
			n += 1
	var us = h.now_usec() - t0
	print("interpolation: %d samples of a 4-field state in %d us (%.1f us each; 15 players: %.0f us per frame)" % [n, us, us * 1.0 / n, us * 15.0 / n])
	h.check(n == 900, "bench ran")
