package admin

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// Longest drain and ban a request may ask for: long enough for any
// maintenance window or temporary ban, short enough that a typo (hours for
// minutes) is caught.
const (
	maxDrainAfter = 24 * time.Hour
	maxBanFor     = 10 * 365 * 24 * time.Hour
	maxTextParam  = 100 // search text
	maxModeParam  = 64
	maxUserID     = 128
)

// badInput is a request error shown to the operator as it is (400).
type badInput string

func (e badInput) Error() string { return string(e) }

func badf(format string, args ...any) error { return badInput(fmt.Sprintf(format, args...)) }

// writeInputError answers a request that could not be parsed.
func writeInputError(w http.ResponseWriter, err error) {
	var tooLarge *http.MaxBytesError
	if errors.As(err, &tooLarge) {
		writeError(w, http.StatusRequestEntityTooLarge, fmt.Sprintf("request body larger than %d bytes", tooLarge.Limit))
		return
	}
	writeError(w, http.StatusBadRequest, err.Error())
}

// decodeBody reads one JSON object into v from a body of at most
// MaxBodyBytes. An empty body leaves v as it is when emptyOK.
func decodeBody(w http.ResponseWriter, r *http.Request, v any, emptyOK bool) error {
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, MaxBodyBytes))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		var tooLarge *http.MaxBytesError
		switch {
		case errors.As(err, &tooLarge):
			return err
		case errors.Is(err, io.EOF):
			if emptyOK {
				return nil
			}
			return badInput("empty request body; expected a JSON object")
		default:
			return badf("bad JSON body: %v", err)
		}
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return badInput("bad JSON body: more than one value")
	}
	return nil
}

// pathID reads the uint32 id in the {id} wildcard.
func pathID(r *http.Request, what string) (uint32, error) {
	s := r.PathValue("id")
	n, err := strconv.ParseUint(s, 10, 32)
	if err != nil || n == 0 {
		return 0, badf("bad %s id %q: want a number from 1 to %d", what, s, uint32(1<<32-1))
	}
	return uint32(n), nil
}

// queryParams checks that q has only the allowed keys, each at most once.
func queryParams(q url.Values, allowed ...string) error {
	for k, v := range q {
		found := false
		for _, a := range allowed {
			found = found || k == a
		}
		if !found {
			return badf("unknown query parameter %q (allowed: %s)", k, strings.Join(allowed, ", "))
		}
		if len(v) > 1 {
			return badf("query parameter %q given more than once", k)
		}
	}
	return nil
}

func pageParams(q url.Values) (limit, offset int, err error) {
	limit, offset = DefaultLimit, 0
	if s := q.Get("limit"); s != "" {
		if limit, err = strconv.Atoi(s); err != nil || limit < 1 || limit > MaxLimit {
			return 0, 0, badf("bad limit %q: want 1 to %d", s, MaxLimit)
		}
	}
	if s := q.Get("offset"); s != "" {
		if offset, err = strconv.Atoi(s); err != nil || offset < 0 || offset > 1<<24 {
			return 0, 0, badf("bad offset %q: want 0 to %d", s, 1<<24)
		}
	}
	return limit, offset, nil
}

func textParam(q url.Values, key string, max int) (string, error) {
	s := q.Get(key)
	if len(s) > max {
		return "", badf("%s longer than %d bytes", key, max)
	}
	if err := printable(key, s); err != nil {
		return "", err
	}
	return s, nil
}

func parseRoomQuery(q url.Values) (RoomQuery, error) {
	var rq RoomQuery
	var err error
	if err = queryParams(q, "mode", "q", "limit", "offset"); err != nil {
		return rq, err
	}
	if rq.Mode, err = textParam(q, "mode", maxModeParam); err != nil {
		return rq, err
	}
	if rq.Text, err = textParam(q, "q", maxTextParam); err != nil {
		return rq, err
	}
	rq.Limit, rq.Offset, err = pageParams(q)
	return rq, err
}

func parsePlayerQuery(q url.Values) (PlayerQuery, error) {
	var pq PlayerQuery
	var err error
	if err = queryParams(q, "q", "room", "transport", "limit", "offset"); err != nil {
		return pq, err
	}
	if pq.Text, err = textParam(q, "q", maxTextParam); err != nil {
		return pq, err
	}
	if s := q.Get("room"); s != "" {
		n, err := strconv.ParseUint(s, 10, 32)
		if err != nil || n == 0 {
			return pq, badf("bad room %q: want a room id", s)
		}
		pq.Room = uint32(n)
	}
	switch pq.Transport = q.Get("transport"); pq.Transport {
	case "", TransportKCP, TransportWS:
	default:
		return pq, badf("bad transport %q: want %q or %q", pq.Transport, TransportKCP, TransportWS)
	}
	pq.Limit, pq.Offset, err = pageParams(q)
	return pq, err
}

// printable refuses invalid UTF-8 and control characters, which would
// garble a log line or a client's display.
func printable(what, s string) error {
	if !utf8.ValidString(s) {
		return badf("%s is not valid UTF-8", what)
	}
	for _, c := range s {
		if unicode.IsControl(c) {
			return badf("%s contains a control character", what)
		}
	}
	return nil
}

func checkText(what, s string, max int, required bool) (string, error) {
	s = strings.TrimSpace(s)
	if required && s == "" {
		return "", badf("%s is required", what)
	}
	if len(s) > max {
		return "", badf("%s longer than %d bytes", what, max)
	}
	return s, printable(what, s)
}

// reasonRequest is the body of kick and close.
type reasonRequest struct {
	Reason string `json:"reason"`
}

// banRequest is the body of POST /api/v1/bans: one target, and either an
// absolute end, a duration, or neither (for good).
type banRequest struct {
	PlayerID uint32    `json:"player_id"`
	UserID   string    `json:"user_id"`
	Address  string    `json:"address"`
	Until    time.Time `json:"until"`
	Duration string    `json:"duration"` // Go syntax: "90m", "24h"
	Reason   string    `json:"reason"`
}

func (b banRequest) ban(now time.Time) (Ban, error) {
	out := Ban{PlayerID: b.PlayerID}
	targets := 0
	if b.PlayerID != 0 {
		targets++
	}
	var err error
	if out.UserID, err = checkText("user_id", b.UserID, maxUserID, false); err != nil {
		return out, err
	}
	if out.UserID != "" {
		targets++
	}
	if a := strings.TrimSpace(b.Address); a != "" {
		targets++
		if out.Address, err = canonicalAddress(a); err != nil {
			return out, err
		}
	}
	if targets != 1 {
		return out, badInput("give exactly one of player_id, user_id and address")
	}
	if out.Reason, err = checkText("reason", b.Reason, MaxReasonBytes, false); err != nil {
		return out, err
	}
	switch {
	case b.Duration != "" && !b.Until.IsZero():
		return out, badInput("give until or duration, not both")
	case b.Duration != "":
		d, err := time.ParseDuration(b.Duration)
		if err != nil || d <= 0 || d > maxBanFor {
			return out, badf("bad duration %q: want a positive Go duration such as 90m or 48h, at most %v", b.Duration, maxBanFor)
		}
		out.Until = now.Add(d)
	case !b.Until.IsZero():
		if !b.Until.After(now) {
			return out, badInput("until is in the past")
		}
		out.Until = b.Until
	}
	return out, nil
}

// canonicalAddress accepts an IP or a CIDR prefix and returns it in its
// canonical form (IPv4-mapped IPv6 unmapped, host bits of a prefix cleared),
// so that equal bans compare equal. Prefixes wider than /8 (IPv4) or /16
// (IPv6) are refused: they would lock out a large part of the internet.
func canonicalAddress(s string) (string, error) {
	if strings.Contains(s, "/") {
		p, err := netip.ParsePrefix(s)
		if err != nil {
			return "", badf("bad address %q: want an IP or a CIDR prefix such as 203.0.113.0/24", s)
		}
		if p.Addr().Is4In6() && p.Bits() >= 96 {
			p = netip.PrefixFrom(p.Addr().Unmap(), p.Bits()-96)
		}
		minBits := 16
		if p.Addr().Is4() {
			minBits = 8
		}
		if p.Bits() < minBits {
			return "", badf("address prefix %q is wider than /%d", s, minBits)
		}
		return p.Masked().String(), nil
	}
	a, err := netip.ParseAddr(s)
	if err != nil || a.Zone() != "" {
		return "", badf("bad address %q: want an IP or a CIDR prefix such as 203.0.113.0/24", s)
	}
	return a.Unmap().String(), nil
}

// drainRequest is the body of POST /api/v1/drain: an absolute deadline or
// a delay from now.
type drainRequest struct {
	Deadline time.Time `json:"deadline"`
	After    string    `json:"after"` // Go syntax: "10m"
}

func (d drainRequest) deadline(now time.Time) (time.Time, error) {
	switch {
	case d.After != "" && !d.Deadline.IsZero():
		return time.Time{}, badInput("give deadline or after, not both")
	case d.After != "":
		after, err := time.ParseDuration(d.After)
		if err != nil || after < 0 || after > maxDrainAfter {
			return time.Time{}, badf("bad after %q: want a Go duration such as 10m, from 0 to %v", d.After, maxDrainAfter)
		}
		return now.Add(after), nil
	case !d.Deadline.IsZero():
		if d.Deadline.Before(now) {
			return time.Time{}, badInput("deadline is in the past")
		}
		if d.Deadline.Sub(now) > maxDrainAfter {
			return time.Time{}, badf("deadline is more than %v away", maxDrainAfter)
		}
		return d.Deadline, nil
	}
	return time.Time{}, badInput("give deadline (RFC 3339) or after (a duration such as 10m)")
}
