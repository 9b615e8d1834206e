# Checks msgpack.gd against vectors written by a Go encoder, in both
# directions, and checks that every strict prefix of every vector is rejected.
#
#   godot3-server --no-window --path PROJECT -s res://tests/msgpack_vectors_test.gd -- --vectors=FILE
#
# FILE has lines `kind<TAB>value<TAB>hex` (and `#` comments). Kinds of the Go
# codec's golden file: nil, true, false, int (decimal), float (decimal, Go 'g'
# -1 format, NaN/+Inf/-Inf), str (raw text), bin (hex). Extra kinds written
# by godot/enginetest: float32 (decode only), uint64 (above 2^63-1: must be a
# decode error), vec2/vec3/color ("x,y[,z[,w]]"), ext ("type:hexdata" of an
# unknown ext type), canon (value rendered by render() below), err (value is
# a description; the bytes must not decode).
extends SceneTree

var h
var mp
var t_array
var t_dict
var t_bytes
var t_float


func _init():
	h = preload("res://tests/harness.gd").new()
	mp = preload("res://addons/tickrelay/msgpack.gd").new()
	t_array = typeof([])
	t_dict = typeof({})
	t_bytes = typeof(StreamPeerBuffer.new().data_array)
	t_float = typeof(1.5)
	var path = h.args().get("vectors", "")
	var text = h.read_text(path)
	if text == null:
		h.check(false, "cannot read vectors file '%s'" % path)
		h.finish(self)
		return
	var vectors = []
	var lineno = 0
	for line in text.split("\n"):
		lineno += 1
		if line.ends_with("\r"):
			line = line.substr(0, line.length() - 1)
		if line == "" or line.begins_with("#"):
			continue
		var f = line.split("\t")
		if not h.check(f.size() == 3, "line %d: want 3 tab-separated fields" % lineno):
			continue
		vectors.append([lineno, f[0], f[1], f[2].to_lower()])
	h.check(vectors.size() > 0, "no vectors in " + path)
	var kinds = {}
	for v in vectors:
		check_vector(v[0], v[1], v[2], v[3])
		kinds[v[1]] = kinds.get(v[1], 0) + 1
	var t0 = h.now_usec()
	var cuts = 0
	for v in vectors:
		if v[1] != "err" and v[1] != "uint64":
			cuts += check_truncations(v[0], h.hex_to_bytes(v[3]))
	var ms = (h.now_usec() - t0) / 1000.0
	print("vectors: %d from %s, kinds %s" % [vectors.size(), path, str(kinds)])
	print("truncations: %d prefixes rejected in %.1f ms" % [cuts, ms])
	h.finish(self)


func check_vector(lineno, kind, value, hexs):
	var bytes = h.hex_to_bytes(hexs)
	var r = mp.decode(bytes)
	var where = "line %d (%s %s)" % [lineno, kind, value.substr(0, 40)]
	if kind == "err" or kind == "uint64":
		h.check(not r.ok, where + ": decoded to %s, want an error" % str(r.value))
		h.check(r.error != "", where + ": error without a message")
		return
	if not h.check(r.ok, where + ": decode error: " + r.error):
		return
	var v = r.value
	if kind == "nil":
		h.check(v == null, where + ": got " + str(v))
		expect_encoding(where, null, hexs)
	elif kind == "true" or kind == "false":
		h.check(typeof(v) == TYPE_BOOL and v == (kind == "true"), where + ": got " + str(v))
		expect_encoding(where, kind == "true", hexs)
	elif kind == "int":
		var want = h.parse_int(value)
		h.check(typeof(v) == TYPE_INT and v == want, where + ": got " + str(v))
		expect_encoding(where, want, hexs)
	elif kind == "float" or kind == "float32":
		h.check(typeof(v) == t_float, where + ": not a float: " + str(v))
		check_float(where, v, value, kind == "float32")
		# Godot's decimal parser is not exact ("0.1".to_float() != 0.1), so the
		# encode direction re-encodes the decoded value: exact bits either way.
		if hexs.begins_with("cb"):
			expect_encoding(where, v, hexs)
	elif kind == "str":
		h.check(typeof(v) == TYPE_STRING and v == value, where + ": got " + str(v))
		expect_encoding(where, value, hexs)
	elif kind == "bin":
		var want = h.hex_to_bytes(value)
		h.check(typeof(v) == t_bytes and v == want, where + ": got " + str(v))
		expect_encoding(where, want, hexs)
	elif kind == "vec2" or kind == "vec3" or kind == "color":
		var c = value.split(",")
		var want
		if kind == "vec2":
			want = Vector2(h.parse_float(c[0]), h.parse_float(c[1]))
		elif kind == "vec3":
			want = Vector3(h.parse_float(c[0]), h.parse_float(c[1]), h.parse_float(c[2]))
		else:
			want = Color(h.parse_float(c[0]), h.parse_float(c[1]), h.parse_float(c[2]), h.parse_float(c[3]))
		h.check(typeof(v) == typeof(want) and v == want, where + ": got " + str(v))
		expect_encoding(where, want, hexs)
	elif kind == "ext":
		var colon = value.find(":")
		var et = h.parse_int(value.substr(0, colon))
		var data = h.hex_to_bytes(value.substr(colon + 1, value.length() - colon - 1))
		var ok = typeof(v) == t_dict and v.get("ext") == et and v.get("data") == data
		h.check(ok, where + ": got " + str(v))
		h.check(mp.encode_ext(et, data).hex_encode() == hexs, where + ": encode_ext differs")
	elif kind == "canon":
		var got = render(v)
		h.check(got == value, where + ": rendered " + got.substr(0, 200))
		expect_encoding(where, v, hexs)
	else:
		h.check(false, where + ": unknown kind")


func expect_encoding(where, value, hexs):
	var b = mp.encode(value)
	h.check(mp.error == "", where + ": encode error " + mp.error)
	var got = b.hex_encode()
	h.check(got == hexs, where + ": encoded " + got.substr(0, 80) + " want " + hexs.substr(0, 80))


func check_float(where, v, text, single):
	if text == "NaN":
		h.check(v != v, where + ": want NaN")
		return
	var want = h.parse_float(text)
	if single:
		# The text is the shortest form of a float32: round it to one.
		var b = StreamPeerBuffer.new()
		b.put_float(want)
		b.seek(0)
		want = b.get_float()
	if want == 0.0 or is_inf(want):
		h.check(v == want and h.sign_bit(v) == h.sign_bit(want), where + ": got " + str(v))
		return
	var rel = abs(v - want) / abs(want)
	h.check(rel < 1e-14 or abs(v - want) < 1e-320, where + ": got %s, parsed %s" % [str(v), str(want)])


# Every strict prefix of a valid encoding must be rejected. decode_slice
# bounds the same buffer (no copy); short vectors are also cut into real
# copies. Vectors above 4 KiB are cut at their first 64 bytes, their last 4
# and 16 points between: a cut near the end of a 65536-element array decodes
# all its elements, so cutting it at every byte would decode billions.
func check_truncations(lineno, bytes):
	var n = bytes.size()
	var count = 0
	var cuts = []
	if n <= 4096:
		cuts = range(n)
	else:
		for i in range(64):
			cuts.append(i)
		for i in range(4):
			cuts.append(n - 1 - i)
		for i in range(16):
			cuts.append(64 + (n - 68) * i / 16)
	for cut in cuts:
		var r = mp.decode_slice(bytes, 0, cut, true)
		h.check(not r.ok, "line %d: prefix of %d bytes decoded" % [lineno, cut])
		count += 1
		if n <= 300:
			var r2 = mp.decode(h.slice(bytes, 0, cut))
			h.check(not r2.ok, "line %d: copied prefix of %d bytes decoded" % [lineno, cut])
	return count


# Canonical text of a decoded value, matching the Go side's rendering:
# nil, true, false, ints in decimal, "strings", b:hex, [a,b], {k:v} in wire
# order, v2(x,y).
func render(v):
	var t = typeof(v)
	if t == TYPE_NIL:
		return "nil"
	if t == TYPE_BOOL:
		return "true" if v else "false"
	if t == TYPE_INT:
		return str(v)
	if t == TYPE_STRING:
		return "\"" + v + "\""
	if t == t_bytes:
		return "b:" + v.hex_encode()
	if t == t_array:
		var s = "["
		for i in range(v.size()):
			if i > 0:
				s += ","
			s += render(v[i])
		return s + "]"
	if t == t_dict:
		var s = "{"
		var first = true
		for k in v:
			if not first:
				s += ","
			first = false
			s += render(k) + ":" + render(v[k])
		return s + "}"
	if t == typeof(Vector2()):
		return "v2(%s,%s)" % [str(v.x), str(v.y)]
	return "?" + str(v)
