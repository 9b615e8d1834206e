# msgpack.gd checks that need no Go vectors: hostile input, nesting limits,
# Godot types, encode errors, slices, and a speed figure for a game frame.
#
#   godot3-server --no-window --path PROJECT -s res://tests/msgpack_unit_test.gd
extends SceneTree

var h
var mp


func _init():
	h = preload("res://tests/harness.gd").new()
	mp = preload("res://addons/tickrelay/msgpack.gd").new()
	test_hostile_headers()
	test_nesting()
	test_godot_types()
	test_encode_errors()
	test_slices()
	test_string_cache()
	test_map_values()
	test_random_garbage()
	bench_frame()
	h.finish(self)


func hex(s):
	return h.hex_to_bytes(s)


func test_hostile_headers():
	# Headers that declare far more than they carry: a decoder that allocates
	# by the declared length dies here (the Go one allocates 4 GiB on the first).
	var cases = ["dd10000000", "c67fffffff", "df7fffffff", "dbffffffff", "c9ffffffff01",
		"dcffff01", "deffff0101", "c5ffff", "daffff41", "ddffffffff" + "00".repeat(16)]
	var t0 = h.now_usec()
	for c in cases:
		var r = mp.decode(hex(c))
		h.check(not r.ok and r.error != "", "hostile %s decoded: %s" % [c, str(r)])
	var us = h.now_usec() - t0
	h.check(us < h.time_limit(50000), "hostile headers took %d us" % us)
	print("hostile headers: %d rejected in %d us" % [cases.size(), us])


func nested_arrays(depth):
	var b = StreamPeerBuffer.new()
	for i in range(depth):
		b.put_u8(0x91)
	b.put_u8(0x01)
	return b.data_array


func test_nesting():
	h.check(mp.decode(nested_arrays(mp.max_depth)).ok, "nesting at the limit rejected")
	var r = mp.decode(nested_arrays(mp.max_depth + 1))
	h.check(not r.ok and r.error.find("nesting") >= 0, "nesting beyond the limit: " + str(r))
	# Timed without building the input (a loop of 100000 steps: slow in a
	# busy wasm engine): the decoder must stop at the depth limit.
	var deep = nested_arrays(100000)
	var t0 = h.now_usec()
	r = mp.decode(deep)
	h.check(not r.ok, "100000 nested arrays decoded")
	h.check(h.now_usec() - t0 < h.time_limit(50000), "deep nesting rejection is slow: %d us" % (h.now_usec() - t0))
	# A self-containing array must not recurse forever on encode.
	var a = []
	a.append(a)
	var e = mp.encode(a)
	h.check(e.size() == 0 and mp.error.find("nesting") >= 0, "self-containing array: " + mp.error)
	a.clear()  # break the cycle so the array can be freed
	var d = {"x": {"y": [1, {"z": []}]}}
	r = mp.decode(mp.encode(d))
	h.check(r.ok and r.value["x"]["y"][1]["z"].size() == 0, "nested containers round trip")


func test_godot_types():
	h.check(mp.encode(Vector2(1.5, -2.25)).hex_encode() == "d7013fc00000c0100000", "Vector2 layout")
	h.check(mp.encode(Vector3(1, 2, 3)).hex_encode() == "c70c023f8000004000000040400000", "Vector3 layout")
	h.check(mp.encode(Color(1, 0, 0.5, 1)).hex_encode() == "d8033f800000000000003f0000003f800000", "Color layout")
	var values = [Vector2(-0.5, 1024.25), Vector3(0, -1, 65536), Color(0.25, 0.5, 0.75, 1.0),
		{1: "int key", "s": 2, 3.5: [true, false, null]}, -1.0 / 3.0, 1e300, -0.0,
		hex("00ff10"), "ünïcödé ✓", "", [], {}]
	for v in values:
		var b = mp.encode(v)
		var r = mp.decode(b)
		h.check(r.ok, "round trip of %s: %s" % [str(v), r.error])
		if r.ok:
			h.check(typeof(r.value) == typeof(v), "type of %s changed to %d" % [str(v), typeof(r.value)])
			# Re-encoding must give the same bytes (Dictionary == compares by
			# reference in Godot 3, so compare encodings).
			h.check(mp.encode(r.value) == b, "re-encoding of %s differs" % str(v))
	# Vector2 fields go through float32: values that need float64 are rounded.
	var r2 = mp.decode(mp.encode(Vector2(0.1, 0)))
	h.check(abs(r2.value.x - 0.1) < 1e-7, "Vector2 float32 rounding")
	# float32 on the wire decodes to float.
	var f = mp.decode(hex("ca3fc00000"))
	h.check(f.ok and f.value == 1.5 and typeof(f.value) == typeof(1.5), "float32 1.5")
	# uint64 above 2^63-1 is an error, not a silently negative int.
	var u = mp.decode(hex("cf8000000000000000"))
	h.check(not u.ok and u.error.find("uint64") >= 0, "uint64 2^63: " + str(u))
	var u2 = mp.decode(hex("cf7fffffffffffffff"))
	h.check(u2.ok and u2.value == 9223372036854775807, "uint64 2^63-1")
	# Unknown ext types keep their type and bytes.
	var x = mp.decode(hex("d4fe07"))
	h.check(x.ok and x.value["ext"] == -2 and x.value["data"] == hex("07"), "unknown fixext1: " + str(x))
	h.check(mp.encode_ext(-2, hex("07")) == hex("d4fe07"), "encode_ext fixext1")
	h.check(mp.encode_ext(5, hex("010203")).hex_encode() == "c7030501020" + "3", "encode_ext ext8")
	h.check(mp.encode_ext(200, hex("01")).size() == 0 and mp.error != "", "encode_ext range")


func test_encode_errors():
	for v in [StreamPeerBuffer.new(), NodePath("a/b"), Rect2(), [1, Rect2()], {"k": NodePath("x")}]:
		var b = mp.encode(v)
		h.check(b.size() == 0 and mp.error != "", "encoding %s must fail" % str(v))
	h.check(mp.encode(1).size() == 1 and mp.error == "", "error is cleared by a good encode")


func test_slices():
	var b = StreamPeerBuffer.new()
	b.put_data(mp.encode("first"))
	b.put_data(mp.encode([1, 2]))
	b.put_data(mp.encode(300))
	var all = b.data_array
	var r = mp.decode(all)
	h.check(not r.ok and r.error.find("trailing") >= 0, "trailing bytes: " + str(r))
	var pos = 0
	var got = []
	while pos < all.size():
		var s = mp.decode_slice(all, pos, all.size())
		if not h.check(s.ok, "slice at %d: %s" % [pos, s.error]):
			break
		got.append(s.value)
		pos = s.next
	h.check(got.size() == 3 and got[0] == "first" and got[1] == [1, 2] and got[2] == 300, "slices: " + str(got))
	h.check(not mp.decode_slice(all, 0, all.size() + 1).ok, "slice past the end")
	h.check(not mp.decode_slice(all, -1, 2).ok, "negative slice start")
	h.check(not mp.decode(StreamPeerBuffer.new().data_array).ok, "empty input")


func test_string_cache():
	var first = mp.encode({"id": 1, "pos": Vector2(1, 2)})
	for i in range(3):
		h.check(mp.encode({"id": 1, "pos": Vector2(1, 2)}) == first, "cached keys change the bytes")
	# Overflowing the cache must not change anything either.
	for i in range(1500):
		var s = "key%d" % i
		var r = mp.decode(mp.encode(s))
		if not h.check(r.ok and r.value == s, "string %s" % s):
			break
	h.check(mp.encode({"id": 1, "pos": Vector2(1, 2)}) == first, "bytes after cache overflow")


# The decoder's shortcuts for map values (uint16, Vector2) and for nothing
# else: values around them round-trip, truncations are errors.
func test_map_values():
	var m = {"a": 127, "b": 128, "c": 255, "d": 256, "e": 65535, "f": 65536, "g": -1, "h": -129,
		"v": Vector2(1.5, -2.25), "w": Vector3(1, 2, 3), "x": Color(1, 0, 0, 1), "y": [1, 2], "z": 2.5, "s": "t"}
	var b = mp.encode(m)
	var r = mp.decode(b)
	h.check(r.ok and str(r.value) == str(m), "map values round trip: %s" % str(r.value))
	var cut = 0
	for n in range(b.size()):
		if not mp.decode(h.slice(b, 0, n)).ok:
			cut += 1
	h.check(cut == b.size(), "%d of %d truncations refused" % [cut, b.size()])
	# A uint16 or Vector2 header at the very end of a map.
	h.check(not mp.decode(hex("81a161cd01")).ok and str(mp.decode(hex("81a161cd0102")).value) == str({"a": 258}), "uint16 at the end")
	h.check(not mp.decode(hex("81a161d7013fc00000c01000")).ok, "Vector2 cut short")
	var e = mp.decode(hex("81a161d7050102030405060708"))
	h.check(e.ok and e.value["a"]["ext"] == 5, "another fixext8 in a map: %s" % str(e.value))


# Random bytes and single-byte mutations of valid encodings: every result is
# ok or an error; none may stop the script (the runner fails on a script
# error), and none may take long.
func test_random_garbage():
	var rng = RandomNumberGenerator.new()
	rng.seed = 12345
	var sample = mp.encode({"players": [{"id": 1, "name": "ann", "pos": Vector2(3, 4), "hp": 100},
		{"id": 2, "name": "bob", "pos": Vector3(1, 2, 3), "c": Color(1, 1, 1, 1), "raw": hex("0102")}],
		"tick": 123456, "f": 0.5, "neg": -70000, "big": 1 << 40})
	var t0 = h.now_usec()
	var oks = 0
	for i in range(3000):
		var b = StreamPeerBuffer.new()
		if i % 2 == 0:
			var n = rng.randi_range(0, 40)
			for j in range(n):
				b.put_u8(rng.randi_range(0, 255))
		else:
			b.data_array = sample
			b.seek(rng.randi_range(0, sample.size() - 1))
			b.put_u8(rng.randi_range(0, 255))
		var r = mp.decode(b.data_array)
		h.check(r.ok or r.error != "", "garbage gave neither a value nor an error")
		if r.ok:
			oks += 1
	var ms = (h.now_usec() - t0) / 1000.0
	h.check(ms < h.time_limit(5000), "garbage decoding took %.0f ms" % ms)
	print("garbage: 3000 inputs, %d decoded, the rest rejected, %.1f ms" % [oks, ms])


# A frame like the relay's snapshots: 32 entities.
func bench_frame():
	var ents = []
	for i in range(32):
		ents.append({"id": i, "pos": Vector2(i * 1.5, -i), "vel": Vector2(0.5, 0.25), "hp": 100 - i, "st": i % 4})
	var frame = {"t": 987654, "ack": 42, "ents": ents}
	var n = 300
	var t0 = h.now_usec()
	var b
	for i in range(n):
		b = mp.encode(frame)
	var enc_us = (h.now_usec() - t0) / n
	t0 = h.now_usec()
	var r
	for i in range(n):
		r = mp.decode(b)
	var dec_us = (h.now_usec() - t0) / n
	h.check(r.ok and r.value["ents"].size() == 32, "benchmark frame round trip")
	print("32-entity frame (%d bytes): encode %d us, decode %d us" % [b.size(), enc_us, dec_us])
