package client

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/tickrelay/tickrelay/codec"
)

// A relay that refuses a WebSocket connection (server_full) sends the
// close message and closes at once, often before the client's hello is
// written: Dial must report the relay's reason, not the failed write.
func TestDialReportsARefusalThatBeatsTheHello(t *testing.T) {
	body := codec.AppendClose(nil, codec.CodeServerFull, "the server is full")[codec.FrameHeaderSize:]
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ws, err := websocket.Accept(w, r, nil)
		if err != nil {
			return
		}
		ctx, cancel := context.WithTimeout(r.Context(), time.Second)
		defer cancel()
		_ = ws.Write(ctx, websocket.MessageBinary, body)
		_ = ws.CloseNow() // no close handshake: the client's next write fails
	}))
	defer srv.Close()
	url := "ws" + strings.TrimPrefix(srv.URL, "http") + "/"
	for i := range 40 {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		c, err := Dial(ctx, url, Options{Name: "late"})
		cancel()
		if c != nil {
			c.Close()
		}
		var re *Error
		if !errors.As(err, &re) || re.Code != codec.CodeServerFull {
			t.Fatalf("dial %d: %v, want the relay's server_full", i, err)
		}
	}
}
