package webhook_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"time"

	"github.com/tickrelay/tickrelay/relay/webhook"
)

// A backend written in Go checks each request with VerifyRequest, then
// decodes the Envelope.
func ExampleVerifyRequest() {
	secret := "shared-secret" // the relay's webhook secret
	seen := map[string]bool{} // event ids processed recently (a real backend expires them)
	http.HandleFunc("POST /tickrelay", func(w http.ResponseWriter, r *http.Request) {
		body, err := webhook.VerifyRequest(r, secret, 1<<20)
		if err != nil {
			http.Error(w, err.Error(), http.StatusUnauthorized) // 4xx: not retried
			return
		}
		var ev webhook.Envelope
		if err := json.Unmarshal(body, &ev); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		if seen[ev.ID] {
			return // a retry of an event already handled: 200 again
		}
		seen[ev.ID] = true
		switch ev.Type {
		case webhook.PlayerJoined:
			var p webhook.PlayerEvent
			_ = json.Unmarshal(ev.Data, &p)
			fmt.Printf("room %d (event %d): %s joined\n", ev.Room, ev.Seq, p.Name)
		}
	})
}

// The signature of the body {} sent at 2024-12-03 12:00:00 UTC under the
// secret "secret", and its check.
func ExampleSign() {
	t := time.Date(2024, 12, 3, 12, 0, 0, 0, time.UTC)
	header := webhook.Sign("secret", t, []byte("{}"))
	fmt.Println(header)
	fmt.Println(webhook.Verify("secret", header, []byte("{}"), t.Add(time.Minute), 0))
	fmt.Println(webhook.Verify("secret", header, []byte(`{"x":1}`), t, 0))
	// Output:
	// t=1733227200,v1=768178487d0e150c53b9d0e950b98d8bf68796a107555d67e7a0b5a05a87791a
	// <nil>
	// webhook: signature does not match
}
