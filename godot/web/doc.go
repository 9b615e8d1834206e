// Package web runs GDScript in Godot 4.6's official web engine inside a
// headless Chromium, for tests: no Godot 4 binary can be installed on the
// machines that run them, but the web export template ships in an npm
// package (godot/web/engine) and Debian's chromium runs it.
//
// The pieces, each usable alone:
//
//   - Pack writes (and reads) Godot 4.4+ resource packs (.pck format 3): the
//     scripts under test, the addon, a project.godot, and
//     .godot/global_script_class_cache.cfg for class_name scripts.
//   - AddRunner makes a pack whose main scene runs test scripts one after
//     another in one engine (starting the engine costs seconds, a test
//     milliseconds) and prints a line per result (gdrun/runner.gd).
//   - Server serves the engine (index.js, index.wasm) and one page per pack
//     over HTTP on 127.0.0.1, on a port the kernel picks.
//   - Browser drives Chromium (github.com/chromedp/chromedp: the DevTools
//     protocol, so the tests need no Node) and collects each page's console,
//     where the engine's output goes.
//   - Engine ties them together; RunPack runs a runner pack to its end and
//     ParseRun reads its lines.
//
// Results are read from the console, not from an exit code: a quit(code)
// made on the web can lose its code, and the release engine does not stop on
// GDScript runtime errors (a call on null goes on with null), so every test
// checks its own results and prints them, and a run fails on any
// "SCRIPT ERROR" or "Parse Error" line.
package web
