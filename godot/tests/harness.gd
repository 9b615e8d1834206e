# Shared helpers of the GDScript engine tests: checks with counters, the
# summary line the Go runner parses, command-line arguments, signal
# connections and hex. Written to run on Godot 3.2 (godot3-server, the
# engine installable here) and Godot 4 (the 4.6 web engine, godot/web).

var passed = 0
var failed = 0
var _fail_lines = 0
var _hexval = {}


func _init():
	var digits = "0123456789abcdef"
	for i in range(16):
		_hexval[digits[i]] = i
		_hexval[digits[i].to_upper()] = i


func check(cond, what):
	if cond:
		passed += 1
	else:
		failed += 1
		# A systematic bug can fail thousands of checks: print the first ones.
		if _fail_lines < 40:
			print("FAIL: ", what)
		_fail_lines += 1
	return cond


# The runner (godot/enginetest) requires this line and a zero exit code.
func summary():
	print("gdtest: %d passed, %d failed" % [passed, failed])
	return 0 if failed == 0 and passed > 0 else 1


# Ends a test script (a SceneTree): prints the summary and quits with its
# code, unless the script runs under godot/web's runner, which runs several
# scripts in one engine and reads the result from this object.
func finish(tree):
	var code = summary()
	if not Engine.has_meta("gdrun"):
		tree.quit(code)
	return code


# Connects signal sig of src to method of target, with binds appended to the
# signal's arguments, on Godot 3 and 4 alike: Godot 4's connect() takes a
# Callable, which Godot 3 cannot name, and Godot 3's takes the object and the
# method's name. Godot 4's get() of a method name gives its Callable; Godot
# 3's gives null.
func connect_signal(src, sig, target, method, binds = []):
	var callable = target.get(method)
	if callable != null:
		if binds.size() > 0:
			callable = callable.bindv(binds)
		return src.callv("connect", [sig, callable])
	return src.callv("connect", [sig, target, method, binds])


# Arguments after "--" as a Dictionary: "--key=value" -> {"key": "value"}.
# Under godot/web's runner, the step's arguments.
func args():
	if Engine.has_meta("gdtest_args"):
		return Engine.get_meta("gdtest_args")
	var raw = []
	if OS.has_method("get_cmdline_user_args"):
		raw = OS.call("get_cmdline_user_args")
	else:
		var after = false
		for a in OS.get_cmdline_args():
			if after:
				raw.append(a)
			elif a == "--":
				after = true
	var out = {}
	for a in raw:
		if a.begins_with("--"):
			var eq = a.find("=")
			if eq > 0:
				out[a.substr(2, eq - 2)] = a.substr(eq + 1, a.length() - eq - 1)
			else:
				out[a.substr(2, a.length() - 2)] = "true"
	return out


# A value as Godot 3's str() shows it ([1, a], {k:v}, True, Null) on both
# engines (Godot 4 quotes strings inside containers and writes true), for
# tests that compare logs as text.
func render(v):
	var t = typeof(v)
	if t == TYPE_NIL:
		return "Null"
	if t == TYPE_BOOL:
		return "True" if v else "False"
	var parts = []
	if t == typeof([]):
		for x in v:
			parts.append(render(x))
		return "[" + _join(parts) + "]"
	if t == typeof({}):
		for k in v:
			parts.append(render(k) + ":" + render(v[k]))
		return "{" + _join(parts) + "}"
	return str(v)


func _join(parts):
	var out = ""
	for i in range(parts.size()):
		out += (", " if i > 0 else "") + parts[i]
	return out


func hex_to_bytes(h):
	var b = StreamPeerBuffer.new()
	var i = 0
	var n = h.length()
	while i + 1 < n:
		b.put_u8(_hexval[h[i]] * 16 + _hexval[h[i + 1]])
		i += 2
	return b.data_array


func bytes_of(list):
	var b = StreamPeerBuffer.new()
	for x in list:
		b.put_u8(x)
	return b.data_array


# String.to_int() is 32-bit in Godot 3.2: parse 64-bit decimals ourselves.
func parse_int(s):
	var neg = s.begins_with("-")
	var v = 0
	for i in range(1 if neg else 0, s.length()):
		var d = _hexval[s[i]]
		# Accumulate towards the sign so that -2^63 does not overflow.
		v = v * 10 - d if neg else v * 10 + d
	return v


func slice(bytes, from, to):
	var b = StreamPeerBuffer.new()
	b.data_array = bytes
	b.seek(from)
	if to <= from:
		return StreamPeerBuffer.new().data_array
	return b.get_data(to - from)[1]


func now_usec():
	if Engine.has_singleton("Time"):
		return Engine.get_singleton("Time").get_ticks_usec()
	return OS.call("get_ticks_usec")


func now_msec():
	return now_usec() / 1000


# A wall-clock bound for a check that catches gross misbehaviour (allocating
# by a declared length, a quadratic loop), measured natively: ten times as
# much in a web engine, whose GDScript runs several times slower in wasm,
# in a browser that shares the machine with everything else.
func time_limit(native):
	return native * 10 if OS.has_feature("web") else native


# Whole file as text, or null. File (Godot 3) and FileAccess (Godot 4) cannot
# both be named in one script, so both are reached by name at run time.
func read_text(path):
	if ClassDB.class_exists("_File"):  # Godot 3 registers File as _File
		var f = ClassDB.call("instance", "_File")
		if f.open(path, 1) != OK:  # File.READ
			return null
		var t = f.get_as_text()
		f.close()
		return t
	if ClassDB.has_method("class_call_static"):
		return ClassDB.call("class_call_static", "FileAccess", "get_file_as_string", path)
	return null


# String.to_float() of Godot 3.2 is far from exact ("1e-100" gives 0), so
# decimal floats in vectors are parsed here: the significant digits as an
# integer times a power of ten, within a few ulps.
func parse_float(s):
	if s == "NaN":
		return NAN
	if s == "+Inf" or s == "Inf":
		return INF
	if s == "-Inf":
		return -INF
	var neg = s.begins_with("-")
	var i = 1 if (neg or s.begins_with("+")) else 0
	var mant = 0
	var ndig = 0
	var exp10 = 0
	var seen_point = false
	var n = s.length()
	while i < n:
		var c = s[i]
		if c == ".":
			seen_point = true
		elif c == "e" or c == "E":
			exp10 += parse_int(s.substr(i + 1, n - i - 1).replace("+", ""))
			break
		else:
			var d = _hexval[c]
			if ndig < 18:
				mant = mant * 10 + d
				if mant != 0:
					ndig += 1
				if seen_point:
					exp10 -= 1
			elif not seen_point:
				exp10 += 1  # digits beyond int64 precision only scale
		i += 1
	# float(int) goes through float32 in Godot 3.2; int * 1.0 stays exact.
	var v = mant * 1.0
	if exp10 < -300:
		v = v * pow(10.0, exp10 + 40) * 1e-40
	elif exp10 > 300:
		v = v * pow(10.0, exp10 - 40) * 1e40
	elif exp10 < 0:
		v = v / pow(10.0, -exp10)
	elif exp10 > 0:
		v = v * pow(10.0, exp10)
	return -v if neg else v


# The sign bit of a float (tells -0.0 from 0.0 without dividing by zero,
# which is a script error in Godot 3).
func sign_bit(f):
	var b = StreamPeerBuffer.new()
	b.put_double(f)
	b.seek(0)
	return b.get_64() < 0
