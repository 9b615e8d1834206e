package enginetest

import (
	"context"
	"regexp"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/tickrelay/tickrelay/relay"
	"github.com/tickrelay/tickrelay/relay/client"
)

var costRE = regexp.MustCompile(`(?m)^cost: .*$`)

// TestClientCost measures client.gd's script time per poll() in the engine,
// polled at 60 fps in a 16-player room at 30 Hz where 15 Go bots set a
// ~64-byte state every tick (client_cost_test.gd). It asserts only that the
// measurement ran; the figure is logged (and quoted in godot/README.md).
//
// Not parallel: it runs before the parallel tests, so that they do not take
// the CPU it measures.
func TestClientCost(t *testing.T) {
	godotBin(t)
	const bots = 15
	addr := startRelay(t, &relay.Server{})
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	var rs []*recorder
	var code string
	for i := range bots {
		r := dialRecorded(t, ctx, addr, "bot"+strconv.Itoa(i))
		if i == 0 {
			j, err := r.c.CreateRoom(ctx, client.RoomOptions{Mode: "cost", MaxPlayers: bots + 1, Private: true})
			if err != nil {
				t.Fatal(err)
			}
			code = j.Code
		} else if _, err := r.c.JoinByCode(ctx, code); err != nil {
			t.Fatal(err)
		}
		rs = append(rs, r)
	}
	size, err := client.Marshal(botState(1, 40000))
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("bot state: %d bytes", len(size))

	// Every bot sets a new state once per tick, as a game client would.
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for i, r := range rs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			tick := time.NewTicker(time.Second / 30)
			defer tick.Stop()
			for seq := 0; ; seq++ {
				if err := r.c.SetState(botState(i, seq)); err != nil {
					return
				}
				select {
				case <-tick.C:
				case <-stop:
					return
				}
			}
		}()
	}
	defer func() { close(stop); wg.Wait() }()

	// As a game that reads every state (decoded, interpolated), then as one
	// that reads few (decode_states = false, no interpolator).
	for _, v := range []struct {
		name string
		args []string
	}{
		{"all states", nil},
		{"lazy", []string{"--decode_states=0", "--interp=0"}},
	} {
		args := append([]string{"--host=127.0.0.1", "--port=" + portOf(t, addr),
			"--code=" + code, "--players=" + strconv.Itoa(bots+1), "--seconds=5", "--fps=60"}, v.args...)
		res := runScript(t, 40*time.Second, "client_cost_test.gd", args...)
		line := costRE.FindString(res.out)
		if line == "" {
			t.Fatalf("%s: no cost line in the output", v.name)
		}
		t.Logf("client.gd (%s) %s", v.name, line)
	}
}

// botState is a typical ~64-byte player state.
func botState(i, seq int) map[string]any {
	x := float64(i*100) + float64(seq)*0.5
	return map[string]any{"pos": []float64{x, 200.25}, "vel": []float64{15, -3.5}, "anim": 3, "hp": 100, "seq": seq}
}

func portOf(t *testing.T, addr string) string {
	t.Helper()
	for i := len(addr) - 1; i >= 0; i-- {
		if addr[i] == ':' {
			return addr[i+1:]
		}
	}
	t.Fatalf("no port in %q", addr)
	return ""
}
