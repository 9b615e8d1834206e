package webhook

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func TestSignVerify(t *testing.T) {
	now := time.Unix(1733227200, 0)
	body := []byte(`{"id":"A","type":"room.created","room":7,"seq":1}`)
	h := Sign("secret", now, body)
	if !strings.HasPrefix(h, "t=1733227200,v1=") || len(h) != len("t=1733227200,v1=")+64 {
		t.Fatalf("header %q", h)
	}
	if err := Verify("secret", h, body, now.Add(time.Minute), 0); err != nil {
		t.Fatalf("valid signature: %v", err)
	}

	tampered := []byte(strings.Replace(string(body), `"room":7`, `"room":8`, 1))
	for _, c := range []struct {
		name   string
		secret string
		header string
		body   []byte
		now    time.Time
		want   error
	}{
		{"tampered body", "secret", h, tampered, now, ErrBadSignature},
		{"extra byte", "secret", h, append(body, ' '), now, ErrBadSignature},
		{"wrong secret", "other", h, body, now, ErrBadSignature},
		{"too old", "secret", h, body, now.Add(DefaultTolerance + time.Second), ErrStale},
		{"from the future", "secret", h, body, now.Add(-DefaultTolerance - time.Second), ErrStale},
		{"time changed", "secret", strings.Replace(h, "t=1733227200", "t=1733227201", 1), body, now, ErrBadSignature},
		{"no header", "secret", "", body, now, ErrNoSignature},
		{"no v1", "secret", "t=1733227200", body, now, ErrNoSignature},
		{"no t", "secret", h[strings.Index(h, "v1="):], body, now, ErrNoSignature},
		{"two t", "secret", "t=1," + h, body, now, ErrBadSignature},
		{"short v1", "secret", "t=1733227200,v1=abcd", body, now, ErrBadSignature},
		{"not hex", "secret", "t=1733227200,v1=" + strings.Repeat("zz", 32), body, now, ErrBadSignature},
		{"signed t", "secret", "t=+1733227200" + h[12:], body, now, ErrBadSignature},
		{"garbage", "secret", "hello", body, now, ErrBadSignature},
		{"huge", "secret", h + strings.Repeat(",x=y", 300), body, now, ErrBadSignature},
	} {
		if err := Verify(c.secret, c.header, c.body, c.now, 0); !errors.Is(err, c.want) {
			t.Errorf("%s: %v, want %v", c.name, err, c.want)
		}
	}

	// Several v1 (a secret being rotated) and unknown keys (a later scheme).
	multi := "t=1733227200,v0=zzz,v1=" + strings.Repeat("0", 64) + "," + h[strings.Index(h, "v1="):]
	if err := Verify("secret", multi, body, now, 0); err != nil {
		t.Errorf("header with two v1 and a v0: %v", err)
	}
	// A tolerance of the caller's.
	if err := Verify("secret", h, body, now.Add(20*time.Second), 10*time.Second); !errors.Is(err, ErrStale) {
		t.Errorf("20 s late with a 10 s tolerance: %v", err)
	}
}

// FuzzVerify: no header breaks Verify, and what Sign makes always verifies.
func FuzzVerify(f *testing.F) {
	now := time.Unix(1733227200, 0)
	f.Add("t=1733227200,v1="+strings.Repeat("ab", 32), []byte("{}"), "k")
	f.Add(Sign("k", now, []byte("x")), []byte("x"), "k")
	f.Add("t=,v1=,=,,", []byte(nil), "")
	f.Add("t=99999999999999999999,v1="+strings.Repeat("0", 64), []byte("{}"), "k")
	f.Fuzz(func(t *testing.T, header string, body []byte, secret string) {
		_ = Verify(secret, header, body, now, 0)
		if err := Verify(secret, Sign(secret, now, body), body, now, 0); err != nil {
			t.Fatalf("own signature refused: %v", err)
		}
	})
}
