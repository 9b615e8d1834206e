# MessagePack codec for the tickrelay client, in the GDScript subset that both
# Godot 3.2+ and Godot 4.x accept (no annotations, no PoolByteArray /
# PackedByteArray names, TYPE_* values probed at run time).
#
# Usage:
#     var mp = preload("res://addons/tickrelay/msgpack.gd").new()
#     var bytes = mp.encode(value)          # empty bytes + mp.error on failure
#     var r = mp.decode(bytes)              # {"ok": bool, "value": v, "error": String}
#     mp.open(bytes, from, to)              # several values out of one buffer:
#     var v = mp.value_at(pos)              #   the value at pos; mp.next is the
#     mp.close()                            #   position after it (-1: malformed)
#
# Mapping (the wire protocol document copies this table):
#   nil                  <-> nil (0xc0)
#   bool                 <-> false/true (0xc2/0xc3)
#   int (64-bit signed)  <-> smallest integer encoding, exactly like the Go codec:
#                            n >= 0: positive fixint, uint8 0xcc, uint16 0xcd,
#                                    uint32 0xce, uint64 0xcf
#                            n <  0: negative fixint, int8 0xd0, int16 0xd1,
#                                    int32 0xd2, int64 0xd3
#                            A uint64 above 2^63-1 does not fit a GDScript int:
#                            decoding it is an error (it is never wrapped to a
#                            negative number, which would silently change it).
#   float                 -> float64 (0xcb); float32 (0xca) and float64 decode
#                            to float.
#   String               <-> str (fixstr/str8/str16/str32, length in UTF-8 bytes);
#                            a Godot 4 StringName encodes as str and decodes
#                            as String. Invalid UTF-8 in a str decodes to
#                            whatever the engine's UTF-8 parser makes of it
#                            (the engine prints "Unicode error"), not an error.
#   byte array           <-> bin (bin8/bin16/bin32)
#   Array                <-> array (fixarray/array16/array32)
#   Dictionary           <-> map (fixmap/map16/map32), keys of any type, in the
#                            Dictionary's order; decoding keeps the wire order.
#   Vector2              <-> ext type 1, fixext8 : d7 01 x y        (float32 BE each)
#   Vector3              <-> ext type 2, ext8    : c7 0c 02 x y z   (float32 BE each)
#   Color                <-> ext type 3, fixext16: d8 03 r g b a    (float32 BE each)
#   other ext types       -> Dictionary {"ext": type (signed int8), "data": bytes}
#                            (decode only; encode such a value with encode_ext()).
#   All other Godot types (Object, NodePath, Rect2, Vector2i, packed arrays
#   other than bytes, ...) are an encode error.
#
# Decoding untrusted bytes never allocates by a declared length: every length
# is checked against the bytes actually left before anything is read, nesting
# is limited by max_depth, and a malformed or truncated input yields
# ok = false with an error message.

const EXT_VECTOR2 = 1
const EXT_VECTOR3 = 2
const EXT_COLOR = 3

# Nesting deeper than this is rejected: a hostile 0x91 0x91 0x91 ... input
# would otherwise recurse until the script stack overflows.
var max_depth = 64

# Error of the last encode() (empty when it succeeded).
var error = ""

# typeof() values that differ between Godot 3 and 4, probed once.
var _t_float
var _t_vector2
var _t_vector3
var _t_color
var _t_dict
var _t_array
var _t_bytes
var _t_string_name  # Godot 4's StringName; equals TYPE_STRING in Godot 3

var _w  # StreamPeerBuffer that encode() writes into
var _r  # StreamPeerBuffer that decode() reads from
var _tmp  # scratch buffer for UTF-8 conversion
var _empty  # detaches _r and _b from the caller's buffer after a decode
var _b  # decode: the bytes being decoded (the caller's array, shared)
var _end = 0  # decode: position one past the last byte we may read
var _pos = 0  # decode: the next byte to read
var _err = ""

# After value_at(): the position just after the value read, or -1 when it
# was malformed (read_error then says why).
var next = 0
var read_error = ""

# Short strings (mostly map keys such as "id", "pos") repeat in every frame;
# their encoded form is cached so that the per-tick encode does no UTF-8 work.
const _STR_CACHE_MAX_ENTRIES = 512
const _STR_CACHE_MAX_LEN = 32
var _str_cache = {}


func _init():
	_w = StreamPeerBuffer.new()
	_w.big_endian = true
	_r = StreamPeerBuffer.new()
	_r.big_endian = true
	_tmp = StreamPeerBuffer.new()
	_tmp.big_endian = true
	_t_float = typeof(1.5)
	_t_vector2 = typeof(Vector2())
	_t_vector3 = typeof(Vector3())
	_t_color = typeof(Color())
	_t_dict = typeof({})
	_t_array = typeof([])
	_t_bytes = typeof(_w.data_array)
	# StringName cannot be named in Godot 3 code; this method returns one in
	# Godot 4 and a String in Godot 3.
	_t_string_name = TYPE_STRING
	var script = get_script()
	if script != null:
		_t_string_name = typeof(script.get_instance_base_type())
	_empty = _w.data_array
	_b = _empty


# Returns an empty byte array of the engine's byte array type.
func empty_bytes():
	return StreamPeerBuffer.new().data_array


# Encodes value. On failure returns empty bytes and sets `error`.
func encode(value):
	error = ""
	_w.clear()
	_put(value, 0)
	if error != "":
		return empty_bytes()
	return _w.data_array


# Encodes value after a 4-byte big-endian length of its encoding (a tickrelay
# frame, PROTOCOL.md section 2), in one pass. Empty bytes and `error` on failure.
# With head (an int 0..127), encodes the array [head, value] instead, without
# building it.
func encode_frame(value, head = -1):
	error = ""
	_w.clear()
	_w.put_u32(0)
	if head >= 0:
		_w.put_u8(0x92)
		_w.put_u8(head)
		_put(value, 1)
	else:
		_put(value, 0)
	if error != "":
		return empty_bytes()
	var n = _w.get_size() - 4
	_w.seek(0)
	_w.put_u32(n)
	return _w.data_array


# Encodes an application-defined ext value (type -128..127).
func encode_ext(ext_type, data):
	error = ""
	_w.clear()
	if ext_type < -128 or ext_type > 127:
		error = "ext type out of range: %d" % ext_type
		return empty_bytes()
	_put_ext_header(ext_type, data.size())
	_w.put_data(data)
	return _w.data_array


# Decodes exactly one value filling all of `bytes`.
func decode(bytes):
	return decode_slice(bytes, 0, bytes.size(), true)


# Decodes one value from bytes[from, to). With require_all = false, bytes may
# follow the value; "next" in the result is the position after it. Useful to
# read a value out of a larger frame without copying.
func decode_slice(bytes, from, to, require_all = false):
	if from < 0 or to > bytes.size() or from > to:
		return {"ok": false, "value": null, "error": "bad slice bounds", "next": from}
	open(bytes, from, to)
	var v = _get(0)
	if _err == "" and require_all and _pos != _end:
		_err = "%d trailing bytes" % (_end - _pos)
	# Do not keep the caller's buffer alive.
	close()
	if _err != "":
		return {"ok": false, "value": null, "error": _err, "next": _pos}
	return {"ok": true, "value": v, "error": "", "next": _pos}


# Reading several values out of one buffer, for a decoder that walks a known
# structure itself (protocol.gd's frame reader): open(bytes, from, to) once,
# then value_at(pos, depth) for each value, then close(). value_at returns the
# value that starts at pos and sets `next` to the position after it; on
# malformed input it returns null, sets next to -1 and read_error. depth is
# the value's nesting depth in the whole message (max_depth counts from it).
func open(bytes, from, to):
	_b = bytes
	_r.data_array = bytes
	_pos = from
	_end = to
	_err = ""
	next = from
	read_error = ""


func value_at(pos, depth = 0):
	_pos = pos
	_err = ""
	var v = _get(depth)
	if _err != "":
		next = -1
		read_error = _err
		return null
	next = _pos
	return v


# value_at() for a value known to be a fixmap (its type byte, at pos, is
# 0x80..0x8f): the same result, without the type dispatch. A game state is
# usually one, and a frame holds one per player.
func fixmap_at(pos, depth):
	_pos = pos + 1
	_err = ""
	var v = _get_map(_b[pos] & 0x0f, depth)
	if _err != "":
		next = -1
		read_error = _err
		return null
	next = _pos
	return v


# Releases the buffer given to open() (decode_slice does it itself).
func close():
	_b = _empty
	_r.data_array = _empty


# With a buffer open(): steps over the value at pos without building it (a
# structural skip: lengths and counts only) and sets `next` to the position
# after it, or to -1 if the bytes end inside it or hold the invalid type byte
# 0xc1. It does not check what a decode would (UTF-8, ext payloads, nesting
# depth): decode the bytes to know they are valid.
func skip_at(pos):
	# Bytes are tested in the order of their frequency in game states: fixstr
	# keys, float64, fixints, fixarrays and fixmaps, then the rest.
	var p = pos
	var e = _end
	var left = 1
	var c
	var n
	while left > 0:
		if p >= e:
			next = -1
			return
		c = _b[p]
		left -= 1
		if c >= 0xa0:
			if c <= 0xbf:
				p += 1 + (c & 0x1f)
				continue
			if c == 0xcb:
				p += 9
				continue
			if c >= 0xe0:
				p += 1
				continue
		elif c <= 0x7f:
			p += 1
			continue
		else:
			p += 1
			if c <= 0x8f:
				left += (c & 0x0f) * 2
			else:
				left += c & 0x0f
			if left > e - p:
				next = -1
				return
			continue
		# 0xc0..0xdf but float64.
		if c <= 0xc3:
			if c == 0xc1:
				next = -1
				return
			p += 1
		elif c == 0xca:
			p += 5
		elif c >= 0xcc and c <= 0xd3:
			p += 1 + (1 << ((c - 0xcc) & 3))
		elif c >= 0xd4 and c <= 0xd8:
			p += 2 + (1 << (c - 0xd4))
		else:
			# Length or count headers: bin8/16/32 (c4..c6), ext8/16/32
			# (c7..c9: a type byte follows), str8/16/32 (d9..db), array16/32
			# (dc, dd), map16/32 (de, df).
			var hn = 1
			if c == 0xc5 or c == 0xc8 or c == 0xda or c == 0xdc or c == 0xde:
				hn = 2
			elif c == 0xc6 or c == 0xc9 or c == 0xdb or c == 0xdd or c == 0xdf:
				hn = 4
			if e - p < 1 + hn:
				next = -1
				return
			n = 0
			for i in range(p + 1, p + 1 + hn):
				n = (n << 8) | _b[i]
			p += 1 + hn
			if c >= 0xdc:
				if c >= 0xde:
					n *= 2
				if n > e - p:
					next = -1
					return
				left += n
				if left > e - p:
					next = -1
					return
			elif c >= 0xc7 and c <= 0xc9:
				p += 1 + n
			else:
				p += n
	# A string, float or ext at the end may claim more bytes than are left.
	if p > e:
		next = -1
		return
	next = p


# With a buffer open(): a copy of its bytes [from, to).
func bytes_at(from, to):
	if to <= from:
		return empty_bytes()
	_r.seek(from)
	return _r.get_data(to - from)[1]


# ---------------------------------------------------------------- encoding

func _put(v, depth):
	var t = typeof(v)
	if t == TYPE_INT:
		_put_int(v)
	elif t == TYPE_STRING:
		_put_str(v)
	elif t == _t_float:
		_w.put_u8(0xcb)
		_w.put_double(v)
	elif t == _t_dict:
		if depth >= max_depth:
			error = "nesting deeper than %d" % max_depth
			return
		var n = v.size()
		if n <= 15:
			_w.put_u8(0x80 | n)
		elif n <= 0xffff:
			_w.put_u8(0xde)
			_w.put_u16(n)
		else:
			_w.put_u8(0xdf)
			_w.put_u32(n)
		for k in v:
			# Inline the common cases (string keys, small ints): a GDScript
			# call costs more than the work it would do.
			var c = _str_cache.get(k) if typeof(k) == TYPE_STRING else null
			if c != null:
				_w.put_data(c)
			else:
				_put(k, depth + 1)
			var e = v[k]
			var te = typeof(e)
			# The common value kinds of a game state are written inline, as
			# _put() does below: a GDScript call costs more than the writes.
			if te == TYPE_INT and e >= 0 and e <= 0x7f:
				_w.put_u8(e)
			elif te == _t_vector2:
				_w.put_u8(0xd7)
				_w.put_u8(EXT_VECTOR2)
				_w.put_float(e.x)
				_w.put_float(e.y)
			elif te == _t_float:
				_w.put_u8(0xcb)
				_w.put_double(e)
			else:
				_put(e, depth + 1)
				if error != "":
					return
	elif t == _t_array:
		if depth >= max_depth:
			error = "nesting deeper than %d" % max_depth
			return
		var n = v.size()
		if n <= 15:
			_w.put_u8(0x90 | n)
		elif n <= 0xffff:
			_w.put_u8(0xdc)
			_w.put_u16(n)
		else:
			_w.put_u8(0xdd)
			_w.put_u32(n)
		for e in v:
			if typeof(e) == TYPE_INT and e >= 0 and e <= 0x7f:
				_w.put_u8(e)
			else:
				_put(e, depth + 1)
			if error != "":
				return
	elif t == TYPE_NIL:
		_w.put_u8(0xc0)
	elif t == TYPE_BOOL:
		_w.put_u8(0xc3 if v else 0xc2)
	elif t == _t_vector2:
		_w.put_u8(0xd7)
		_w.put_u8(EXT_VECTOR2)
		_w.put_float(v.x)
		_w.put_float(v.y)
	elif t == _t_vector3:
		_w.put_u8(0xc7)
		_w.put_u8(12)
		_w.put_u8(EXT_VECTOR3)
		_w.put_float(v.x)
		_w.put_float(v.y)
		_w.put_float(v.z)
	elif t == _t_color:
		_w.put_u8(0xd8)
		_w.put_u8(EXT_COLOR)
		_w.put_float(v.r)
		_w.put_float(v.g)
		_w.put_float(v.b)
		_w.put_float(v.a)
	elif t == _t_string_name:
		_put_str(str(v))
	elif t == _t_bytes:
		var n = v.size()
		if n <= 0xff:
			_w.put_u8(0xc4)
			_w.put_u8(n)
		elif n <= 0xffff:
			_w.put_u8(0xc5)
			_w.put_u16(n)
		else:
			_w.put_u8(0xc6)
			_w.put_u32(n)
		_w.put_data(v)
	else:
		error = "cannot encode a value of Variant type %d" % t


func _put_int(v):
	if v >= 0:
		if v <= 0x7f:
			_w.put_u8(v)
		elif v <= 0xff:
			_w.put_u8(0xcc)
			_w.put_u8(v)
		elif v <= 0xffff:
			_w.put_u8(0xcd)
			_w.put_u16(v)
		elif v <= 0xffffffff:
			_w.put_u8(0xce)
			_w.put_u32(v)
		else:
			_w.put_u8(0xcf)
			_w.put_64(v)
	elif v >= -32:
		_w.put_8(v)
	elif v >= -128:
		_w.put_u8(0xd0)
		_w.put_8(v)
	elif v >= -32768:
		_w.put_u8(0xd1)
		_w.put_16(v)
	elif v >= -2147483648:
		_w.put_u8(0xd2)
		_w.put_32(v)
	else:
		_w.put_u8(0xd3)
		_w.put_64(v)


func _put_str(s):
	var cached = _str_cache.get(s)
	if cached != null:
		_w.put_data(cached)
		return
	# put_utf8_string is the one UTF-8 conversion both engine versions share;
	# it writes a u32 length first, which tells the byte length.
	_tmp.clear()
	_tmp.put_utf8_string(s)
	var n = _tmp.get_size() - 4
	_tmp.seek(4)
	var utf8 = _tmp.get_data(n)[1]
	if n <= 31:
		_tmp.clear()
		_tmp.put_u8(0xa0 | n)
		_tmp.put_data(utf8)
		var enc = _tmp.data_array
		if n <= _STR_CACHE_MAX_LEN:
			if _str_cache.size() >= _STR_CACHE_MAX_ENTRIES:
				_str_cache.clear()
			_str_cache[s] = enc
		_w.put_data(enc)
		return
	if n <= 0xff:
		_w.put_u8(0xd9)
		_w.put_u8(n)
	elif n <= 0xffff:
		_w.put_u8(0xda)
		_w.put_u16(n)
	else:
		_w.put_u8(0xdb)
		_w.put_u32(n)
	_w.put_data(utf8)


func _put_ext_header(ext_type, n):
	var t = ext_type & 0xff
	if n == 1:
		_w.put_u8(0xd4)
	elif n == 2:
		_w.put_u8(0xd5)
	elif n == 4:
		_w.put_u8(0xd6)
	elif n == 8:
		_w.put_u8(0xd7)
	elif n == 16:
		_w.put_u8(0xd8)
	elif n <= 0xff:
		_w.put_u8(0xc7)
		_w.put_u8(n)
	elif n <= 0xffff:
		_w.put_u8(0xc8)
		_w.put_u16(n)
	else:
		_w.put_u8(0xc9)
		_w.put_u32(n)
	_w.put_u8(t)


# ---------------------------------------------------------------- decoding

# The decoder reads type bytes and small integers by indexing the byte array
# (_b), which costs a fraction of a StreamPeerBuffer call, and uses _r only
# for what needs it (floats, strings, bins), seeking it to _pos first. The
# common cases of a game state (fixints, float64, fixstr keys) are inlined in
# the array and map loops: a GDScript call costs more than the work it does.
#
# Every reader below first checks that n bytes are left; it sets _err and
# returns null otherwise. Callers test _err after nested reads.

func _fail(msg):
	if _err == "":
		_err = "%s at byte %d" % [msg, _pos]
	return null


func _get(depth):
	if _pos >= _end:
		return _fail("unexpected end of input")
	var b = _b[_pos]
	_pos += 1
	if b <= 0x7f:
		return b
	if b >= 0xe0:
		return b - 256
	if b <= 0xbf:
		if b >= 0xa0:
			return _get_str(b & 0x1f)
		if b >= 0x90:
			return _get_array(b & 0x0f, depth)
		return _get_map(b & 0x0f, depth)
	if b == 0xcb:
		if _end - _pos < 8:
			return _fail("truncated float64")
		_r.seek(_pos)
		_pos += 8
		return _r.get_double()
	# 0xc0..0xdf: a binary search over the type byte keeps every form within
	# a few comparisons (a GDScript if-chain costs per test).
	if b < 0xd0:
		if b < 0xc8:
			if b < 0xc4:
				if b == 0xc0:
					return null
				if b == 0xc2:
					return false
				if b == 0xc3:
					return true
				_pos -= 1
				return _fail("invalid type byte 0xc1")
			if b == 0xc7:
				if _end - _pos < 1:
					return _fail("truncated ext8 header")
				_pos += 1
				return _get_ext(_b[_pos - 1])
			var hn = 1 << (b - 0xc4)  # bin8/16/32: 1, 2, 4 length bytes
			if _end - _pos < hn:
				return _fail("truncated bin header")
			_pos += hn
			if hn == 1:
				return _get_bin(_b[_pos - 1])
			if hn == 2:
				return _get_bin((_b[_pos - 2] << 8) | _b[_pos - 1])
			_r.seek(_pos - 4)
			return _get_bin(_r.get_u32())
		if b < 0xcc:
			if b == 0xca:
				if _end - _pos < 4:
					return _fail("truncated float32")
				_r.seek(_pos)
				_pos += 4
				return _r.get_float()
			if b == 0xc8:
				if _end - _pos < 2:
					return _fail("truncated ext16 header")
				_pos += 2
				return _get_ext((_b[_pos - 2] << 8) | _b[_pos - 1])
			if b == 0xc9:
				if _end - _pos < 4:
					return _fail("truncated ext32 header")
				_r.seek(_pos)
				_pos += 4
				return _get_ext(_r.get_u32())
			return _fail("invalid type byte")  # not reached: 0xcb is above
		# 0xcc..0xcf: uint8/16/32/64
		var un = 1 << (b - 0xcc)
		if _end - _pos < un:
			return _fail("truncated uint%d" % (un * 8))
		if un == 1:
			_pos += 1
			return _b[_pos - 1]
		if un == 2:
			_pos += 2
			return (_b[_pos - 2] << 8) | _b[_pos - 1]
		_r.seek(_pos)
		if un == 4:
			_pos += 4
			return _r.get_u32()
		var u = _r.get_64()
		if u < 0:
			return _fail("uint64 above 2^63-1 does not fit a GDScript int")
		_pos += 8
		return u
	if b < 0xd8:
		if b >= 0xd4:
			# fixext 1, 2, 4, 8; Vector2 (fixext8, type 1) is the common one.
			var fn = 1 << (b - 0xd4)
			if fn == 8 and _end - _pos >= 9 and _b[_pos] == EXT_VECTOR2:
				_r.seek(_pos + 1)
				_pos += 9
				var x = _r.get_float()
				return Vector2(x, _r.get_float())
			return _get_ext(fn)
		# 0xd0..0xd3: int8/16/32/64
		var sn = 1 << (b - 0xd0)
		if _end - _pos < sn:
			return _fail("truncated int%d" % (sn * 8))
		if sn == 1:
			_pos += 1
			var v8 = _b[_pos - 1]
			return v8 - 256 if v8 >= 0x80 else v8
		_r.seek(_pos)
		_pos += sn
		if sn == 2:
			return _r.get_16()
		if sn == 4:
			return _r.get_32()
		return _r.get_64()
	if b < 0xdc:
		if b == 0xd8:
			return _get_ext(16)
		# 0xd9..0xdb: str8/16/32
		var ln = 1 << (b - 0xd9)
		if _end - _pos < ln:
			return _fail("truncated str header")
		_pos += ln
		if ln == 1:
			return _get_str(_b[_pos - 1])
		if ln == 2:
			return _get_str((_b[_pos - 2] << 8) | _b[_pos - 1])
		_r.seek(_pos - 4)
		return _get_str(_r.get_u32())
	# 0xdc..0xdf: array16/32, map16/32
	var cn = 2 if (b == 0xdc or b == 0xde) else 4
	if _end - _pos < cn:
		return _fail("truncated container header")
	var count
	if cn == 2:
		count = (_b[_pos] << 8) | _b[_pos + 1]
	else:
		_r.seek(_pos)
		count = _r.get_u32()
	_pos += cn
	if b <= 0xdd:
		return _get_array(count, depth)
	return _get_map(count, depth)


func _get_str(n):
	if n > _end - _pos:
		return _fail("string of %d bytes but only %d left" % [n, _end - _pos])
	if n == 0:
		return ""
	_r.seek(_pos)
	_pos += n
	return _r.get_utf8_string(n)


func _get_bin(n):
	if n > _end - _pos:
		return _fail("bin of %d bytes but only %d left" % [n, _end - _pos])
	if n == 0:
		return empty_bytes()
	_r.seek(_pos)
	_pos += n
	return _r.get_data(n)[1]


func _get_array(n, depth):
	# Each element takes at least one byte: a count above the bytes left is
	# malformed, and rejecting it here keeps a hostile header from costing
	# anything.
	if n > _end - _pos:
		return _fail("array of %d elements but only %d bytes left" % [n, _end - _pos])
	if depth >= max_depth:
		return _fail("nesting deeper than %d" % max_depth)
	var a = []
	a.resize(n)
	var b
	for i in range(n):
		# Inline fixints and float64 (most of a game state's arrays).
		if _pos >= _end:
			return _fail("unexpected end of input")
		b = _b[_pos]
		if b <= 0x7f:
			_pos += 1
			a[i] = b
		elif b == 0xcb and _end - _pos >= 9:
			_r.seek(_pos + 1)
			_pos += 9
			a[i] = _r.get_double()
		else:
			a[i] = _get(depth + 1)
			if _err != "":
				return null
	return a


func _get_map(n, depth):
	if n * 2 > _end - _pos:
		return _fail("map of %d entries but only %d bytes left" % [n, _end - _pos])
	if depth >= max_depth:
		return _fail("nesting deeper than %d" % max_depth)
	var d = {}
	var k
	var b
	for i in range(n):
		# Fast paths for fixstr keys and fixint / float64 / fixarray / uint16 /
		# Vector2 values, which make up most of a game state: saving the
		# _get() call is most of the cost.
		if _pos >= _end:
			return _fail("unexpected end of input")
		b = _b[_pos]
		if b >= 0xa1 and b <= 0xbf:
			b &= 0x1f
			if b > _end - _pos - 1:
				_pos += 1
				return _fail("string of %d bytes but only %d left" % [b, _end - _pos])
			_r.seek(_pos + 1)
			_pos += 1 + b
			k = _r.get_utf8_string(b)
		else:
			k = _get(depth + 1)
			if _err != "":
				return null
		if _pos >= _end:
			return _fail("map value missing")
		b = _b[_pos]
		if b <= 0x7f:
			_pos += 1
			d[k] = b
		elif b == 0xcb and _end - _pos >= 9:
			_r.seek(_pos + 1)
			_pos += 9
			d[k] = _r.get_double()
		elif b >= 0x90 and b <= 0x9f:
			_pos += 1
			d[k] = _get_array(b & 0x0f, depth + 1)
			if _err != "":
				return null
		elif b == 0xcd and _end - _pos >= 3:
			_pos += 3
			d[k] = (_b[_pos - 2] << 8) | _b[_pos - 1]
		elif b == 0xd7 and _end - _pos >= 10 and _b[_pos + 1] == EXT_VECTOR2:
			_r.seek(_pos + 2)
			_pos += 10
			var x = _r.get_float()
			d[k] = Vector2(x, _r.get_float())
		else:
			d[k] = _get(depth + 1)
			if _err != "":
				return null
	return d


func _get_ext(n):
	if _end - _pos < 1 + n:
		return _fail("ext of %d bytes but only %d left" % [n, _end - _pos - 1])
	_r.seek(_pos)
	var t = _r.get_8()
	_pos += 1 + n
	if t == EXT_VECTOR2:
		if n != 8:
			return _fail("Vector2 ext with %d bytes instead of 8" % n)
		var x = _r.get_float()
		return Vector2(x, _r.get_float())
	if t == EXT_VECTOR3:
		if n != 12:
			return _fail("Vector3 ext with %d bytes instead of 12" % n)
		var x = _r.get_float()
		var y = _r.get_float()
		return Vector3(x, y, _r.get_float())
	if t == EXT_COLOR:
		if n != 16:
			return _fail("Color ext with %d bytes instead of 16" % n)
		var r = _r.get_float()
		var g = _r.get_float()
		var b = _r.get_float()
		return Color(r, g, b, _r.get_float())
	var data = empty_bytes()
	if n > 0:
		data = _r.get_data(n)[1]
	return {"ext": t, "data": data}
