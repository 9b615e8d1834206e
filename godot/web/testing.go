package web

import (
	"context"
	"os"
	"testing"
	"time"
)

// RequireGodotEnv is the environment variable that turns a missing engine
// or browser into a test failure instead of a skip (`make test` sets it).
const RequireGodotEnv = "RELAY_REQUIRE_GODOT"

// Available reports why the engine cannot run here (nil when it can): no
// Chromium, or the engine's npm package not installed.
func Available() error {
	if _, err := FindChromium(); err != nil {
		return err
	}
	return CheckEngine(DefaultEngineDir())
}

// SkipUnlessAvailable skips t when Available() fails, or fails it when
// RELAY_REQUIRE_GODOT=1.
func SkipUnlessAvailable(t testing.TB) {
	t.Helper()
	if err := Available(); err != nil {
		if os.Getenv(RequireGodotEnv) == "1" {
			t.Fatalf("%s=1 but the Godot web engine cannot run: %v", RequireGodotEnv, err)
		}
		t.Skipf("%v; set %s=1 to fail instead", err, RequireGodotEnv)
	}
}

// StartForTest starts an Engine for t (skipping as SkipUnlessAvailable
// does) and closes it when t ends.
func StartForTest(t testing.TB) *Engine {
	t.Helper()
	SkipUnlessAvailable(t)
	e := &Engine{}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := e.Start(ctx); err != nil {
		t.Fatalf("start the web engine: %v", err)
	}
	t.Cleanup(func() {
		if err := e.Close(); err != nil {
			t.Errorf("close the web engine: %v", err)
		}
	})
	return e
}
