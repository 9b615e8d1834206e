package enginetest

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/tickrelay/tickrelay/codec"
	"github.com/tickrelay/tickrelay/godot/web"
	"github.com/tickrelay/tickrelay/internal/relaytest"
	"github.com/tickrelay/tickrelay/relay"
)

// TestRedirectInTheBrowser: client.gd follows a redirect over WebSocket
// (tests/redirect_e2e_test.gd). Node A is a stand-in here: it welcomes the
// client, answers its join_code with a redirect to node B (the real relay)
// and expects a bye. Node B is not in a cluster, so it refuses the seat
// (forbidden), which the script must get as the answer to its join: a
// refusal on the new node (TestCluster runs against a real cluster).
func TestRedirectInTheBrowser(t *testing.T) {
	t.Parallel()
	sharedWebEngine(t)
	_, bURL := relaytest.StartBoth(t, &relay.Server{})
	result := make(chan error, 1)
	a := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		conn, err := websocket.Accept(w, r, &websocket.AcceptOptions{OriginPatterns: []string{"*"}})
		if err == nil {
			defer conn.CloseNow()
			ctx, cancel := context.WithTimeout(r.Context(), 30*time.Second)
			defer cancel()
			err = nodeA(ctx, conn, bURL)
		}
		select {
		case result <- err:
		default: // a second connection: the first one's result counts
		}
	}))
	defer a.Close()
	aURL := "ws" + strings.TrimPrefix(a.URL, "http") + "/"
	run := startWebPlan(t, addonPack(t), []web.Step{{
		Script: "res://tests/redirect_e2e_test.gd", Kind: web.StepNode,
		Args: map[string]string{"url": aURL, "b": bURL}, TimeoutSeconds: 30,
	}}, nil, 45*time.Second)
	res := run.wait()
	select {
	case err := <-result:
		if err != nil {
			t.Errorf("node A: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Error("node A never finished: no connection, or no bye")
	}
	for _, l := range res.Output {
		if strings.HasPrefix(l.Text, "redirect:") {
			t.Log(l.Text)
		}
	}
}

// nodeA welcomes the client as player 7, redirects its join_code to bURL
// and wants a bye next.
func nodeA(ctx context.Context, conn *websocket.Conn, bURL string) error {
	var m codec.ClientMsg
	if err := read(ctx, conn, &m); err != nil || m.Type != codec.THello {
		return fmt.Errorf("want hello: type %d, %v", m.Type, err)
	}
	if err := write(ctx, conn, codec.AppendWelcome(nil, 7, "tok-a", 30, time.Now().UnixMilli(), 1, false, 0)); err != nil {
		return err
	}
	if err := read(ctx, conn, &m); err != nil || m.Type != codec.TJoinCode || string(m.Code) != "ABCDEF" {
		return fmt.Errorf("want join_code ABCDEF: type %d code %q, %v", m.Type, m.Code, err)
	}
	if err := write(ctx, conn, codec.AppendRedirect(nil, m.RID, 2, "127.0.0.1:1", bURL, "seat-1")); err != nil {
		return err
	}
	if err := read(ctx, conn, &m); err != nil || m.Type != codec.TBye {
		return fmt.Errorf("want bye after the redirect: type %d, %v", m.Type, err)
	}
	return nil
}
