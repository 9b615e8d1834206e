package webhook

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// SignatureHeader carries "t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>".
const SignatureHeader = "X-Tickrelay-Signature"

// DefaultTolerance is how far a signature's time may be from the verifier's
// clock when Verify is given no tolerance: it bounds how long a captured
// request can be replayed.
const DefaultTolerance = 5 * time.Minute

// maxSignatureHeader bounds the work Verify does on a hostile header.
const maxSignatureHeader = 1024

// Errors Verify returns (wrapped with detail).
var (
	ErrNoSignature  = errors.New("webhook: no signature")
	ErrBadSignature = errors.New("webhook: signature does not match")
	ErrStale        = errors.New("webhook: signature time outside the tolerance")
)

// Sign returns the signature header value for body sent at t.
func Sign(secret string, t time.Time, body []byte) string {
	ts := strconv.FormatInt(t.Unix(), 10)
	return "t=" + ts + ",v1=" + hex.EncodeToString(mac(secret, ts, body))
}

func mac(secret, ts string, body []byte) []byte {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write([]byte(ts))
	m.Write([]byte{'.'})
	m.Write(body)
	return m.Sum(nil)
}

// Verify checks a signature header against the raw request body: one of its
// v1 values must be the HMAC of "<t>.<body>" under secret, and t must be
// within tolerance of now (DefaultTolerance when tolerance <= 0). Keys other
// than t and v1 are ignored, so that a later scheme can be added alongside.
//
// A valid signature proves the body came from a relay holding the secret
// and was sent recently; a replay within the tolerance has the same event
// id, so a backend that must act once per event also remembers the ids it
// has processed for that long.
func Verify(secret, header string, body []byte, now time.Time, tolerance time.Duration) error {
	if header == "" {
		return ErrNoSignature
	}
	if len(header) > maxSignatureHeader {
		return fmt.Errorf("%w: header longer than %d bytes", ErrBadSignature, maxSignatureHeader)
	}
	if tolerance <= 0 {
		tolerance = DefaultTolerance
	}
	var ts string
	var sigs [][]byte
	for part := range strings.SplitSeq(header, ",") {
		k, v, ok := strings.Cut(strings.TrimSpace(part), "=")
		if !ok {
			return fmt.Errorf("%w: malformed element %q", ErrBadSignature, part)
		}
		switch k {
		case "t":
			if ts != "" {
				return fmt.Errorf("%w: more than one t", ErrBadSignature)
			}
			ts = v
		case "v1":
			sig, err := hex.DecodeString(v)
			if err != nil || len(sig) != sha256.Size {
				return fmt.Errorf("%w: v1 is not a hex SHA-256 HMAC", ErrBadSignature)
			}
			sigs = append(sigs, sig)
		}
	}
	if ts == "" || len(sigs) == 0 {
		return fmt.Errorf("%w: want t=<unix seconds>,v1=<hex>", ErrNoSignature)
	}
	sec, err := strconv.ParseInt(ts, 10, 64)
	if err != nil || ts[0] == '+' || ts[0] == '-' {
		return fmt.Errorf("%w: t is not unix seconds", ErrBadSignature)
	}
	want := mac(secret, ts, body)
	match := false
	for _, sig := range sigs {
		match = hmac.Equal(sig, want) || match
	}
	if !match {
		return ErrBadSignature
	}
	// Checked after the MAC, so that an attacker learns nothing about the
	// time check without a valid signature.
	if d := now.Sub(time.Unix(sec, 0)); d > tolerance || d < -tolerance {
		return fmt.Errorf("%w: signed at %s, now %s", ErrStale, time.Unix(sec, 0).UTC().Format(time.RFC3339), now.UTC().Format(time.RFC3339))
	}
	return nil
}

// VerifyRequest reads r's body (at most maxBody bytes) and verifies its
// signature against the current time with DefaultTolerance. It returns the
// body, for the handler to decode into an Envelope.
func VerifyRequest(r *http.Request, secret string, maxBody int64) ([]byte, error) {
	body, err := io.ReadAll(io.LimitReader(r.Body, maxBody+1))
	if err != nil {
		return nil, err
	}
	if int64(len(body)) > maxBody {
		return nil, fmt.Errorf("webhook: body larger than %d bytes", maxBody)
	}
	if err := Verify(secret, r.Header.Get(SignatureHeader), body, time.Now(), 0); err != nil {
		return nil, err
	}
	return body, nil
}
