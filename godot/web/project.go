package web

import (
	"bufio"
	_ "embed"
	"encoding/json"
	"fmt"
	"regexp"
	"sort"
	"strings"
)

//go:embed gdrun/runner.gd
var runnerScript []byte

//go:embed gdrun/main.tscn
var runnerScene []byte

// Where AddRunner puts the runner in a pack.
const (
	RunnerScene = "res://gdrun/main.tscn"
	runnerPlan  = "gdrun/plan.json"
)

// StepKind says how the runner runs a Step.
type StepKind string

const (
	// StepTree is a test script that extends SceneTree (as the Godot 3
	// engine tests run with -s): attached to the running tree, its _init
	// runs the whole test. It reports through res://tests/harness.gd.
	StepTree StepKind = "tree"
	// StepNode is a Node test that runs over frames (anything that waits on
	// the browser, such as a WebSocket): added to the tree, it is done when
	// its `done` variable is true; its result is its harness `h`.
	StepNode StepKind = "node"
	// StepLoad only loads the script: it must parse and compile.
	StepLoad StepKind = "load"
)

// Step is one thing the runner does, in order.
type Step struct {
	// Script is the res:// path of the script.
	Script string `json:"script"`
	// Kind is how it runs; "" means StepTree.
	Kind StepKind `json:"kind,omitempty"`
	// Args is what harness.args() returns during the step.
	Args map[string]string `json:"args,omitempty"`
	// TimeoutSeconds bounds a StepNode (0: 60 s).
	TimeoutSeconds float64 `json:"timeout_s,omitempty"`
}

// AddRunner adds the test runner as the pack's main scene, the plan it runs,
// and a project.godot that starts it (replacing any). settings are extra
// project.godot lines by section, e.g. {"tickrelay": {"port": "7777"}}
// (values in project.godot syntax: strings quoted).
func (p *Pack) AddRunner(plan []Step, settings map[string]map[string]string) error {
	if len(plan) == 0 {
		return fmt.Errorf("runner: empty plan")
	}
	for i, s := range plan {
		if !strings.HasPrefix(s.Script, "res://") {
			return fmt.Errorf("runner: step %d: script %q is not a res:// path", i, s.Script)
		}
		switch s.Kind {
		case "", StepTree, StepNode, StepLoad:
		default:
			return fmt.Errorf("runner: step %d: unknown kind %q", i, s.Kind)
		}
	}
	planJSON, err := json.Marshal(plan)
	if err != nil {
		return err
	}
	project := ProjectGodot("tickrelay-gdrun", RunnerScene)
	for _, section := range sortedKeys(settings) {
		for _, key := range sortedKeys(settings[section]) {
			project = SetProjectSetting(project, section, key, settings[section][key])
		}
	}
	for _, f := range []struct {
		name string
		data []byte
	}{
		{"gdrun/runner.gd", runnerScript},
		{"gdrun/main.tscn", runnerScene},
		{runnerPlan, planJSON},
		{"project.godot", []byte(project)},
	} {
		if err := p.Add(f.name, f.data); err != nil {
			return err
		}
	}
	return nil
}

// ProjectGodot is a minimal Godot 4 project.godot (text, config_version 5)
// named name that starts mainScene.
func ProjectGodot(name, mainScene string) string {
	return fmt.Sprintf(`config_version=5

[application]

config/name=%q
run/main_scene=%q
config/features=PackedStringArray("%d.%d")
`, name, mainScene, EngineMajor, EngineMinor)
}

// SetProjectSetting sets key=value in [section] of a project.godot text,
// replacing the key's line if it is there and adding the section if it is
// not. value is in project.godot syntax (strings quoted).
func SetProjectSetting(project, section, key, value string) string {
	var out []string
	lines := strings.Split(strings.TrimRight(project, "\n"), "\n")
	cur := ""
	done := false
	insertAt := -1 // after the last line of the section, when it is there
	for _, l := range lines {
		t := strings.TrimSpace(l)
		if strings.HasPrefix(t, "[") && strings.HasSuffix(t, "]") {
			cur = t[1 : len(t)-1]
		} else if cur == section && !done {
			if k, _, ok := strings.Cut(t, "="); ok && strings.TrimSpace(k) == key {
				out = append(out, key+"="+value)
				done = true
				continue
			}
		}
		out = append(out, l)
		if cur == section && t != "" {
			insertAt = len(out)
		}
	}
	if !done {
		if insertAt < 0 {
			out = append(out, "", "["+section+"]", "")
			insertAt = len(out)
		}
		out = append(out[:insertAt], append([]string{key + "=" + value}, out[insertAt:]...)...)
	}
	return strings.Join(out, "\n") + "\n"
}

var (
	classNameRE = regexp.MustCompile(`^class_name\s+([A-Za-z_]\w*)`)
	extendsRE   = regexp.MustCompile(`^extends\s+("[^"]*"|[A-Za-z_][\w.]*)`)
)

// AddClassCache writes res://.godot/global_script_class_cache.cfg, which a
// Godot 4 export needs for `class_name` to resolve, listing every script in
// the pack that declares one (the editor writes it on export; a pack made
// here has no editor).
func (p *Pack) AddClassCache() error {
	type script struct{ class, extends string }
	scripts := map[string]script{}
	for _, name := range p.Names() {
		if !strings.HasSuffix(name, ".gd") {
			continue
		}
		var s script
		sc := bufio.NewScanner(strings.NewReader(string(p.files[name])))
		sc.Buffer(make([]byte, 0, 64*1024), 1<<20)
		for sc.Scan() {
			line := sc.Text()
			if m := classNameRE.FindStringSubmatch(line); m != nil && s.class == "" {
				s.class = m[1]
			}
			if m := extendsRE.FindStringSubmatch(line); m != nil && s.extends == "" {
				s.extends = m[1]
			}
		}
		scripts["res://"+name] = s
	}
	// The base of a class is the class its script extends: a native class,
	// another global class, or (extends "res://path.gd") that script's
	// global class or, failing that, its own base.
	var base func(path string, depth int) string
	base = func(path string, depth int) string {
		s := scripts[path]
		switch {
		case depth > 32:
			return "RefCounted"
		case s.extends == "":
			return "RefCounted"
		case strings.HasPrefix(s.extends, `"`):
			parent := strings.Trim(s.extends, `"`)
			if ps, ok := scripts[parent]; ok && ps.class != "" {
				return ps.class
			}
			return base(parent, depth+1)
		default:
			return s.extends
		}
	}
	var entries []string
	for _, path := range sortedKeys(scripts) {
		s := scripts[path]
		if s.class == "" {
			continue
		}
		entries = append(entries, fmt.Sprintf(`{
"base": &%q,
"class": &%q,
"icon": "",
"is_abstract": false,
"is_tool": false,
"language": &"GDScript",
"path": %q
}`, base(path, 0), s.class, path))
	}
	return p.Add(".godot/global_script_class_cache.cfg", []byte("list=["+strings.Join(entries, ", ")+"]\n"))
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
