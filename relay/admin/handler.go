package admin

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/rs/zerolog"
)

// DefaultTimeout bounds every call into the relay when Handler.Timeout is 0.
const DefaultTimeout = 5 * time.Second

// Handler serves the admin JSON API under /api/v1/ and the dashboard at /.
// Set its fields before the first request and do not change them after.
type Handler struct {
	// Relay answers the API's calls. Required.
	Relay Relay
	// Token is the bearer token every /api/ request must carry. An empty
	// token refuses every /api/ request (Server refuses to start with one).
	Token string
	// Timeout bounds each call into the relay; 0 means DefaultTimeout. A
	// call that runs out gets 503, so a stuck relay never hangs the API.
	Timeout time.Duration
	// Log receives one line per admin action (who, what, arguments,
	// outcome). The zero value logs nothing.
	Log zerolog.Logger
	// Now is the clock for ages and relative deadlines; nil means time.Now.
	Now func() time.Time

	once sync.Once
	mux  *http.ServeMux
}

// ServeHTTP routes r to the API or the dashboard.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h.once.Do(h.routes)
	h.mux.ServeHTTP(w, r)
}

func (h *Handler) routes() {
	mux := http.NewServeMux()
	api := func(pattern string, fn http.HandlerFunc) { mux.Handle(pattern, h.authorize(fn)) }

	api("GET /api/v1/overview", h.getOverview)
	api("GET /api/v1/rooms", h.getRooms)
	api("GET /api/v1/rooms/{id}", h.getRoom)
	api("POST /api/v1/rooms/{id}/close", h.postCloseRoom)
	api("GET /api/v1/players", h.getPlayers)
	api("POST /api/v1/players/{id}/kick", h.postKick)
	api("GET /api/v1/bans", h.getBans)
	api("POST /api/v1/bans", h.postBan)
	api("DELETE /api/v1/bans/{id}", h.deleteBan)
	api("POST /api/v1/announce", h.postAnnounce)
	api("POST /api/v1/drain", h.postDrain)

	// ServeMux answers a wrong method with a plain-text 405 and an unknown
	// path with a plain-text 404; these patterns are less specific than the
	// ones above and give API clients JSON instead.
	allow := map[string]string{
		"/api/v1/overview":          "GET, HEAD",
		"/api/v1/rooms":             "GET, HEAD",
		"/api/v1/rooms/{id}":        "GET, HEAD",
		"/api/v1/rooms/{id}/close":  "POST",
		"/api/v1/players":           "GET, HEAD",
		"/api/v1/players/{id}/kick": "POST",
		"/api/v1/bans":              "GET, HEAD, POST",
		"/api/v1/bans/{id}":         "DELETE",
		"/api/v1/announce":          "POST",
		"/api/v1/drain":             "POST",
	}
	for path, methods := range allow {
		api(path, func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Allow", methods)
			writeError(w, http.StatusMethodNotAllowed, "method not allowed; use "+methods)
		})
	}
	api("/api/", func(w http.ResponseWriter, _ *http.Request) {
		writeError(w, http.StatusNotFound, "no such API endpoint")
	})

	dashboardRoutes(mux)
	h.mux = mux
}

// authorize lets a request through only with the right bearer token.
func (h *Handler) authorize(next http.HandlerFunc) http.Handler {
	// Comparing digests keeps the comparison constant-time in the token's
	// length as well as its content.
	want := sha256.Sum256([]byte(h.Token))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		got := sha256.Sum256([]byte(tok))
		if !ok || h.Token == "" || subtle.ConstantTimeCompare(got[:], want[:]) != 1 {
			w.Header().Set("WWW-Authenticate", `Bearer realm="tickrelay admin"`)
			writeError(w, http.StatusUnauthorized, "missing or wrong bearer token")
			return
		}
		w.Header().Set("Cache-Control", "no-store")
		next(w, r)
	})
}

func (h *Handler) now() time.Time {
	if h.Now != nil {
		return h.Now()
	}
	return time.Now()
}

// relayCtx bounds a call into the relay.
func (h *Handler) relayCtx(r *http.Request) (context.Context, context.CancelFunc) {
	d := h.Timeout
	if d <= 0 {
		d = DefaultTimeout
	}
	return context.WithTimeout(r.Context(), d)
}

// relayError answers a failed relay call with the status its error means.
func (h *Handler) relayError(w http.ResponseWriter, err error) {
	var input *InputError
	switch {
	case errors.As(err, &input):
		writeError(w, http.StatusBadRequest, input.Msg)
	case errors.Is(err, ErrNotFound):
		writeError(w, http.StatusNotFound, err.Error())
	case errors.Is(err, ErrConflict):
		writeError(w, http.StatusConflict, err.Error())
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, context.Canceled):
		writeError(w, http.StatusServiceUnavailable, "the relay did not answer in time")
	default:
		writeError(w, http.StatusInternalServerError, "relay error: "+err.Error())
	}
}

// audit logs an admin action: what, by whom, when, with what, and how it
// ended.
func (h *Handler) audit(r *http.Request, action string, err error, args func(*zerolog.Event)) {
	ev := h.Log.Info()
	if err != nil {
		ev = h.Log.Warn().Str("error", err.Error())
	}
	ev = ev.Str("admin_action", action).Str("by", r.RemoteAddr).Time("at", h.now())
	if args != nil {
		args(ev)
	}
	ev.Msg("admin action")
}

type errorBody struct {
	Error string `json:"error"`
}

func writeError(w http.ResponseWriter, status int, msg string) {
	writeJSON(w, status, errorBody{msg})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
