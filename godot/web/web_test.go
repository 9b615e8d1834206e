package web

import (
	"bytes"
	"context"
	"image/png"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestPackRoundTrip(t *testing.T) {
	var p Pack
	files := map[string]string{
		"project.godot":              "config_version=5\n",
		"a.gd":                       "extends Node\n",
		"addons/x/abc.gd":            strings.Repeat("x", 33),
		"res://deep/er/path/d.txt":   "",
		".godot/global_cache.cfg":    "list=[]\n",
		"four/abcd":                  "aligned name",
		"addons/x/../x/cleaned.json": "{}",
	}
	for name, data := range files {
		if err := p.Add(name, []byte(data)); err != nil {
			t.Fatal(err)
		}
	}
	if err := p.Add("../outside", nil); err == nil {
		// Cleaned into res://outside: a path cannot leave res://.
		if !p.Has("outside") {
			t.Fatal("../outside was not kept inside res://")
		}
	}
	data := p.Bytes()
	if len(data)%packAlign != 4 && !bytes.HasPrefix(data, []byte("GDPC")) {
		t.Fatalf("not a pack: % x", data[:8])
	}
	back, err := ReadPack(data)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := strings.Join(back.Names(), ","), strings.Join(p.Names(), ","); got != want {
		t.Fatalf("names: got %s want %s", got, want)
	}
	for _, n := range p.Names() {
		if !bytes.Equal(back.File(n), p.File(n)) {
			t.Errorf("%s: got %q want %q", n, back.File(n), p.File(n))
		}
	}
	if !back.Has("addons/x/cleaned.json") || !back.Has("deep/er/path/d.txt") {
		t.Errorf("paths not cleaned: %v", back.Names())
	}
	// A damaged pack is refused, not misread.
	bad := bytes.Clone(data)
	bad[len(bad)-60] ^= 0xff
	if _, err := ReadPack(bad); err == nil {
		t.Error("a damaged directory was accepted")
	}
	for _, n := range []int{0, 3, 40, packHeaderSize + 3} {
		if _, err := ReadPack(data[:n]); err == nil {
			t.Errorf("a pack cut to %d bytes was accepted", n)
		}
	}
}

// The reader understands the pack Godot's own exporter wrote for the engine
// package (the same format, so the writer's mirror image is checked
// against the real thing).
func TestReadGodotsOwnPack(t *testing.T) {
	data, err := os.ReadFile(filepath.Join(DefaultEngineDir(), "index.pck"))
	if err != nil {
		t.Skipf("the engine package is not installed: %v", err)
	}
	p, err := ReadPack(data)
	if err != nil {
		t.Fatal(err)
	}
	if !p.Has("project.binary") || !bytes.HasPrefix(p.File(".godot/global_script_class_cache.cfg"), []byte("list=[{")) {
		t.Fatalf("unexpected content: %v", p.Names())
	}
}

func TestSetProjectSetting(t *testing.T) {
	in := "config_version=5\n\n[application]\n\nconfig/name=\"x\"\n\n[tickrelay]\n\nhost=\"a\"\nport=1\n"
	out := SetProjectSetting(in, "tickrelay", "port", "7777")
	out = SetProjectSetting(out, "tickrelay", "mtu", "1200")
	out = SetProjectSetting(out, "autoload", "Relay", `"*res://r.gd"`)
	want := "config_version=5\n\n[application]\n\nconfig/name=\"x\"\n\n[tickrelay]\n\nhost=\"a\"\nport=7777\nmtu=1200\n\n[autoload]\n\nRelay=\"*res://r.gd\"\n"
	if out != want {
		t.Fatalf("got\n%s\nwant\n%s", out, want)
	}
}

func TestClassCache(t *testing.T) {
	var p Pack
	p.Add("lib/a.gd", []byte("class_name Alpha\nextends Node2D\n"))
	p.Add("lib/b.gd", []byte("class_name Beta\nextends \"res://lib/a.gd\"\n"))
	p.Add("lib/c.gd", []byte("extends Node\n"))
	p.Add("lib/d.gd", []byte("# no extends\nclass_name Delta\n"))
	if err := p.AddClassCache(); err != nil {
		t.Fatal(err)
	}
	got := string(p.File(".godot/global_script_class_cache.cfg"))
	for _, want := range []string{`"base": &"Node2D",` + "\n" + `"class": &"Alpha"`, `"base": &"Alpha",` + "\n" + `"class": &"Beta"`,
		`"base": &"RefCounted",` + "\n" + `"class": &"Delta"`, `"path": "res://lib/b.gd"`} {
		if !strings.Contains(got, want) {
			t.Errorf("class cache lacks %q:\n%s", want, got)
		}
	}
	if strings.Contains(got, "lib/c.gd") {
		t.Errorf("a script without class_name is listed:\n%s", got)
	}
}

// The runner in the real engine: a passing test (with a class_name script
// and step arguments), a failing one, one that does not parse, a Node test
// over frames, and load checks of a good and a bad script. Each must be
// reported as it is, and the parse error must be seen.
func TestRunnerInTheEngine(t *testing.T) {
	e := StartForTest(t)
	var p Pack
	if err := p.AddFS(os.DirFS("testdata"), ".", "t", nil); err != nil {
		t.Fatal(err)
	}
	plan := []Step{
		{Script: "res://t/pass_test.gd", Args: map[string]string{"answer": "42"}},
		{Script: "res://t/fail_test.gd"},
		{Script: "res://t/parse_error_test.gd"},
		{Script: "res://t/node_test.gd", Kind: StepNode, TimeoutSeconds: 20},
		{Script: "res://t/lib/greeter.gd", Kind: StepLoad},
		{Script: "res://t/parse_error_test.gd", Kind: StepLoad},
	}
	if err := p.AddRunner(plan, nil); err != nil {
		t.Fatal(err)
	}
	if err := p.AddClassCache(); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	res, err := e.RunPack(ctx, &p, PageConfig{}, func(l Line) { t.Log(l.Text) })
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("run: %v", res.Duration)
	if res.OK() {
		t.Error("a run with failing steps is OK")
	}
	if !res.Done || res.FailedSteps != 3 {
		t.Errorf("done %v, failed steps %d, want 3", res.Done, res.FailedSteps)
	}
	type want struct {
		ok             bool
		passed, failed int
	}
	wants := []want{{true, 4, 0}, {false, 1, 1}, {false, -1, -1}, {true, 5, 0}, {true, -1, -1}, {false, -1, -1}}
	if len(res.Steps) != len(wants) {
		t.Fatalf("%d steps reported, want %d: %+v", len(res.Steps), len(wants), res.Steps)
	}
	for i, w := range wants {
		s := res.Steps[i]
		if s.Script != plan[i].Script || s.OK != w.ok || s.Passed != w.passed || s.Failed != w.failed {
			t.Errorf("step %d: got %s ok=%v passed=%d failed=%d, want %s %+v", i, s.Script, s.OK, s.Passed, s.Failed, plan[i].Script, w)
		}
	}
	if len(res.ScriptErrors) == 0 {
		t.Error("the parse error was not seen")
	}
	if !strings.Contains(strings.Join(res.Steps[1].Output, "\n"), "FAIL: two is not three") {
		t.Errorf("the failing step's output: %q", res.Steps[1].Output)
	}
}

// A page that draws (PageConfig.Render): WebGL on the CPU shows the scene,
// and the screenshot has its colours where the scene put them.
func TestRenderedPage(t *testing.T) {
	e := StartForTest(t)
	var p Pack
	if err := p.AddFS(os.DirFS("testdata/render"), ".", "", nil); err != nil {
		t.Fatal(err)
	}
	project := ProjectGodot("render", "res://draw.tscn")
	project = SetProjectSetting(project, "display", "window/size/viewport_width", "320")
	project = SetProjectSetting(project, "display", "window/size/viewport_height", "200")
	project = SetProjectSetting(project, "rendering", "renderer/rendering_method", `"gl_compatibility"`)
	p.Add("project.godot", []byte(project))
	if err := p.AddClassCache(); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	page, err := e.Open(ctx, &p, PageConfig{Render: true, Width: 320, Height: 200}, func(l Line) { t.Log(l.Text) })
	if err != nil {
		t.Fatal(err)
	}
	defer page.Close()
	if _, _, err := page.WaitLine(ctx, 0, func(l Line) bool { return strings.HasPrefix(l.Text, "render: drawn") }); err != nil {
		t.Fatal(err)
	}
	shot, err := page.Screenshot(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(t.ArtifactDir(), "render.png"), shot, 0o644); err != nil {
		t.Fatal(err)
	}
	img, err := png.Decode(bytes.NewReader(shot))
	if err != nil {
		t.Fatal(err)
	}
	at := func(x, y int) (r, g, b uint32) {
		r, g, b, _ = img.At(x, y).RGBA()
		return r >> 8, g >> 8, b >> 8
	}
	if r, g, b := at(50, 50); r < 200 || g > 50 || b > 50 {
		t.Errorf("inside the square: rgb(%d,%d,%d), want red", r, g, b)
	}
	if r, g, b := at(250, 150); r > 50 || g > 50 || b < 200 {
		t.Errorf("the background: rgb(%d,%d,%d), want blue", r, g, b)
	}
}

// ReadPack never panics or reads past its input, whatever the bytes.
func FuzzReadPack(f *testing.F) {
	var p Pack
	p.Add("a.gd", []byte("extends Node\n"))
	p.Add("dir/b.txt", []byte("0123456789abcdef0"))
	f.Add(p.Bytes())
	f.Add([]byte("GDPC"))
	f.Fuzz(func(t *testing.T, data []byte) {
		got, err := ReadPack(data)
		if err != nil {
			return
		}
		// What it accepts, it writes back the same.
		again, err := ReadPack(got.Bytes())
		if err != nil {
			t.Fatalf("re-reading an accepted pack: %v", err)
		}
		if strings.Join(again.Names(), ",") != strings.Join(got.Names(), ",") {
			t.Fatalf("names changed: %v -> %v", got.Names(), again.Names())
		}
	})
}
