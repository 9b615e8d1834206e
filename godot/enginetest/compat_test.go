package enginetest

import (
	"bytes"
	"context"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"
)

// coreFiles are the addon's scripts that must run on Godot 3.2+ and 4.x
// alike (the engine tests run them on Godot 3.2; games run them on 4). The
// rest of the addon (plugin.gd, websocket_link.gd) and the demo are Godot 4
// only.
var coreFiles = []string{"kcp.gd", "kcp_link.gd", "msgpack.gd", "protocol.gd", "room_view.gd", "client.gd", "interpolation.gd", "relay_node.gd", "meeting.gd", "redirect.gd", "resume.gd", "protocol_meeting.gd"}

// compatRule is a construct only one of the two engine versions accepts (or
// that means different things in each), matched in code with comments and
// string contents blanked out.
type compatRule struct {
	re  *regexp.Regexp
	why string
}

func rule(pattern, why string) compatRule {
	return compatRule{regexp.MustCompile(pattern), why}
}

var compatRules = []compatRule{
	rule(`@`, "annotations (@export, @onready, @tool, ...) are Godot 4 only"),
	rule(`\b(export|onready|tool|setget)\b`, "Godot 3 keyword (Godot 4 uses annotations or properties)"),
	rule(`\b(yield|await)\b`, "coroutines differ: yield is Godot 3, await is Godot 4"),
	rule(`\b(master|puppet|slave|remote|sync|remotesync|mastersync|puppetsync)\b`, "Godot 3 RPC keyword: cannot be an identifier there, and means nothing in Godot 4"),
	rule(`\b(super|trait|namespace|when)\b`, "Godot 4 keyword"),
	rule(`\bPool\w*Array\b`, "Pool*Array types are Godot 3 only"),
	rule(`\bPacked\w*Array\b`, "Packed*Array types are Godot 4 only"),
	rule(`\bArray\s*\[`, "typed arrays are Godot 4 only"),
	rule(`\bOS\s*\.\s*get_(ticks_msec|ticks_usec|unix_time|system_time_msecs|system_time_secs|datetime|date|time)\b`, "the clock moved from OS to Time in Godot 4: reach it through Engine.get_singleton(\"Time\") or OS.call(...)"),
	rule(`\bTime\s*\.`, "the Time singleton does not exist in Godot 3.2: use Engine.get_singleton(\"Time\")"),
	rule(`\bto_(utf8|ascii)(_buffer)?\b`, "to_utf8/to_ascii (3) became to_utf8_buffer/to_ascii_buffer (4): use StreamPeerBuffer.put_utf8_string"),
	rule(`\.\s*remove\s*\(`, "Array.remove (3) became remove_at (4)"),
	rule(`\bremove_at\s*\(`, "remove_at is Godot 4 only"),
	rule(`\.\s*slice\s*\(`, "Array.slice: end inclusive in 3, exclusive in 4"),
	rule(`\b(rand_range|randf_range|randi_range)\s*\(`, "random ranges differ (rand_range is 3, randf_range is 4): use a RandomNumberGenerator"),
	rule(`\b(stepify|snapped)\b`, "stepify (3) became snapped (4)"),
	rule(`\b(str2var|var2str|var2bytes|bytes2var|str_to_var|var_to_str|var_to_bytes|bytes_to_var)\b`, "variant conversion functions were renamed in Godot 4"),
	rule(`\b(to_json|parse_json|JSON)\b`, "JSON differs: to_json/parse_json and the static JSON.parse are Godot 3; Godot 4 has a JSON class instance API"),
	rule(`\.\s*instance\s*\(\s*\)`, "PackedScene.instance() (3) became instantiate() (4)"),
	rule(`\binstantiate\s*\(`, "instantiate() is Godot 4 only"),
	rule(`\b(connect|disconnect|is_connected)\s*\(`, "signal connections differ (3: object and method name, 4: Callable): connect in the game, or forward signals"),
	rule(`\bCallable\b|\bfuncref\b|\.\s*emit\s*\(|\.\s*bind\s*\(|\bfunc\s*\(`, "Callable, funcref, signal.emit(), bind() and lambdas differ between 3 and 4"),
	rule(`\bTYPE_(ARRAY|DICTIONARY|RAW_ARRAY|REAL|FLOAT|STRING_NAME|CALLABLE|SIGNAL|VECTOR2I|VECTOR3I|VECTOR4I?|RECT2I|PROJECTION|QUAT|QUATERNION|TRANSFORM|TRANSFORM3D|\w+_ARRAY)\b`, "TYPE_* constants that differ in name or number between 3 and 4: probe with typeof() of a sample value"),
	rule(`\.\s*(empty|is_empty)\s*\(`, "empty() (3) became is_empty() (4): compare size() with 0"),
	rule(`\b(linear_interpolate|deg2rad|rad2deg|deg_to_rad|rad_to_deg|clamped|limit_length|xform|xform_inv)\b`, "renamed between 3 and 4"),
	rule(`\.\s*lerp\s*\(`, "Vector.lerp is Godot 4 (3: linear_interpolate): write a + (b - a) * t"),
	rule(`\b(RefCounted|Reference|FileAccess|DirAccess|Directory|File)\b`, "class exists in only one version: reach it by name at run time"),
	rule(`\bEngine\s*\.\s*(editor_hint|is_editor_hint)\b`, "Engine.editor_hint (3) became is_editor_hint() (4)"),
	rule(`\b(get_cmdline_user_args|get_tree\s*\(\s*\)\s*\.\s*change_scene)\b`, "differs between 3 and 4"),
	rule(`\bstatic\s+var\b`, "static variables are Godot 4.1+ only"),
	rule(`\bis\s+not\b`, "`is not` is Godot 4.2+ only"),
}

// TestGodotCompatibility fails when a core file uses something only one of
// Godot 3.2 and Godot 4 accepts. No engine needed.
func TestGodotCompatibility(t *testing.T) {
	t.Parallel()
	for _, name := range coreFiles {
		path := filepath.Join("..", "addons", "tickrelay", name)
		src, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range compatProblems(string(src)) {
			t.Errorf("%s:%s", path, p)
		}
	}
}

// TestCompatCheckerItself makes sure the checker finds what it should, and
// ignores comments and strings.
func TestCompatCheckerItself(t *testing.T) {
	t.Parallel()
	clean := `# export var x, yield(), OS.get_ticks_msec(), a.remove(1), @tool
var s = "PoolByteArray connect( to_utf8 @export Time.get_ticks_msec()"
var r = 'it''s \' a.slice(1) \" master'
var m = """
multi-line: setget onready .empty()
"""
var d = {"master": 1}
func f(x):
	var t = Engine.get_singleton("Time")
	return OS.call("get_ticks_usec") + d["master"] + t.get_ticks_usec() + x.size()
`
	if p := compatProblems(clean); len(p) != 0 {
		t.Errorf("false positives in comments and strings:\n%s", strings.Join(p, "\n"))
	}
	bad := map[string]string{
		"@export var x = 1":                        "annotations",
		"export var x = 1":                         "Godot 3 keyword",
		"onready var n = get_node(\"a\")":          "Godot 3 keyword",
		"var x setget a":                           "Godot 3 keyword",
		"func f():\n\tyield(get_tree(), \"x\")":    "coroutines",
		"func f():\n\tawait get_tree().x":          "coroutines",
		"var b = PoolByteArray()":                  "Pool",
		"var b = PackedByteArray()":                "Packed",
		"var b: Array[int] = []":                   "typed arrays",
		"var t = OS.get_ticks_msec()":              "clock",
		"var t = Time.get_ticks_msec()":            "Time singleton",
		"var b = s.to_utf8()":                      "to_utf8",
		"var b = s.to_utf8_buffer()":               "to_utf8",
		"func f(a):\n\ta.remove(0)":                "Array.remove",
		"func f(a):\n\ta.remove_at(0)":             "remove_at",
		"var x = a.slice(1, 2)":                    "slice",
		"var x = rand_range(0, 1)":                 "random",
		"var x = randf_range(0, 1)":                "random",
		"var x = stepify(1.5, 1)":                  "stepify",
		"var x = snapped(1.5, 1)":                  "stepify",
		"var x = str2var(s)":                       "variant conversion",
		"var x = to_json(d)":                       "JSON",
		"var x = parse_json(s)":                    "JSON",
		"var x = JSON.parse(s)":                    "JSON",
		"var n = scene.instance()":                 "instance()",
		"var n = scene.instantiate()":              "instantiate",
		"func f():\n\tconnect(\"a\", self, \"b\")": "signal connections",
		"func f():\n\tx.connect(\"a\", f)":         "signal connections",
		"func f():\n\tsig.emit(1)":                 "Callable",
		"var f = func(x): return x":                "Callable",
		"var t = TYPE_ARRAY":                       "TYPE_",
		"var t = TYPE_REAL":                        "TYPE_",
		"var t = TYPE_PACKED_BYTE_ARRAY":           "TYPE_",
		"func f(s):\n\treturn s.empty()":           "empty()",
		"var master = 1":                           "RPC keyword",
		"func f(r):\n\treturn r.master":            "RPC keyword",
		"var x = v.linear_interpolate(w, 0.5)":     "renamed",
		"var x = v.lerp(w, 0.5)":                   "Vector.lerp",
		"var f = File.new()":                       "class exists",
		"extends Reference":                        "class exists",
		"var x = &\"name\"":                        "StringName",
		"var x = ^\"path\"":                        "StringName",
		"static var n = 1":                         "static variables",
		"func f(x):\n\treturn x is not Node":       "is not",
	}
	keys := make([]string, 0, len(bad))
	for k := range bad {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, src := range keys {
		p := compatProblems(src)
		if len(p) == 0 || !strings.Contains(strings.Join(p, "\n"), bad[src]) {
			t.Errorf("%q: want a problem mentioning %q, got %q", src, bad[src], p)
		}
	}
}

// compatProblems lists "line: text: why" for every rule that matches src's
// code (comments and string contents blanked out).
func compatProblems(src string) []string {
	code, literals := stripGDScript(src)
	var out []string
	out = append(out, literals...)
	lines := strings.Split(code, "\n")
	orig := strings.Split(src, "\n")
	for i, l := range lines {
		for _, r := range compatRules {
			if r.re.MatchString(l) {
				out = append(out, fmt.Sprintf("%d: %s: %s", i+1, strings.TrimSpace(orig[i]), r.why))
			}
		}
	}
	return out
}

// stripGDScript blanks comments and the contents of string literals (keeping
// the quotes and every newline, so line numbers hold), and reports
// StringName (&"x") and NodePath (^"x") literals, which are Godot 4 only.
func stripGDScript(src string) (string, []string) {
	b := []byte(src)
	out := make([]byte, len(b))
	copy(out, b)
	var problems []string
	line := 1
	for i := 0; i < len(b); {
		c := b[i]
		switch {
		case c == '\n':
			line++
			i++
		case c == '#':
			for i < len(b) && b[i] != '\n' {
				out[i] = ' '
				i++
			}
		case c == '"' || c == '\'':
			if i > 0 && (b[i-1] == '&' || b[i-1] == '^') {
				problems = append(problems, fmt.Sprintf("%d: %c%c...: StringName and NodePath literals are Godot 4 only", line, b[i-1], c))
			}
			q := []byte{c}
			if i+2 < len(b) && b[i+1] == c && b[i+2] == c {
				q = []byte{c, c, c}
			}
			i += len(q)
			for i < len(b) {
				if b[i] == '\\' && i+1 < len(b) {
					out[i] = ' '
					if b[i+1] != '\n' {
						out[i+1] = ' '
					} else {
						line++
					}
					i += 2
					continue
				}
				if bytes.HasPrefix(b[i:], q) {
					i += len(q)
					break
				}
				if b[i] == '\n' {
					line++
					if len(q) == 1 {
						i++ // unterminated: let the engine complain
						break
					}
				} else {
					out[i] = ' '
				}
				i++
			}
		default:
			i++
		}
	}
	return string(out), problems
}

// TestGodot4Syntax parses every .gd file of the addon and the demo with the
// Godot 4 grammar (tree-sitter-gdscript, via godot/tools/gdparse.js) and
// fails on syntax errors. It needs node; the npm packages are installed into
// godot/tools/node_modules when RELAY_REQUIRE_GODOT=1 (as `make test` sets),
// and the test skips without them otherwise.
func TestGodot4Syntax(t *testing.T) {
	t.Parallel()
	node, err := exec.LookPath("node")
	if err != nil {
		t.Skip("node not found: the Godot 4 grammar check needs it (apt-get install -y nodejs npm)")
	}
	tools, err := filepath.Abs(filepath.Join("..", "tools"))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	if _, err := os.Stat(filepath.Join(tools, "node_modules", "tree-sitter-gdscript", "package.json")); err != nil {
		if os.Getenv("RELAY_REQUIRE_GODOT") != "1" {
			t.Skip("tree-sitter is not installed in godot/tools (npm ci there, or set RELAY_REQUIRE_GODOT=1)")
		}
		npm, err := exec.LookPath("npm")
		if err != nil {
			t.Fatalf("RELAY_REQUIRE_GODOT=1 and node is here, but npm is not: %v", err)
		}
		cmd := exec.CommandContext(ctx, npm, "ci", "--no-audit", "--no-fund", "--loglevel=error")
		cmd.Dir = tools
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("npm ci in %s: %v\n%s", tools, err, out)
		}
	}
	var files []string
	for _, dir := range []string{"addons", "demo"} {
		root := filepath.Join("..", dir)
		err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if d.IsDir() && (d.Name() == ".godot" || d.Name() == "node_modules") {
				return filepath.SkipDir
			}
			// WalkDir does not follow symlinks: the demo's link to the addon
			// is not parsed twice.
			if !d.IsDir() && strings.HasSuffix(path, ".gd") {
				files = append(files, path)
			}
			return nil
		})
		if err != nil && !os.IsNotExist(err) {
			t.Fatal(err)
		}
	}
	if len(files) < len(coreFiles)+2 {
		t.Fatalf("only %d .gd files found: %v", len(files), files)
	}
	// The checker must see an error where there is one.
	bad := filepath.Join(t.TempDir(), "bad.gd")
	if err := os.WriteFile(bad, []byte("func f(:\n\tpass\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.CommandContext(ctx, node, filepath.Join(tools, "gdparse.js"), bad).CombinedOutput()
	if err == nil || !strings.Contains(string(out), "syntax error") {
		t.Fatalf("gdparse.js accepted a broken file: %v\n%s", err, out)
	}
	out, err = exec.CommandContext(ctx, node, append([]string{filepath.Join(tools, "gdparse.js")}, files...)...).CombinedOutput()
	t.Logf("%s", out)
	if err != nil {
		t.Fatalf("Godot 4 grammar check failed: %v", err)
	}
}
