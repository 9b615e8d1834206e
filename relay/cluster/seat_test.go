package cluster

import (
	"errors"
	"strconv"
	"strings"
	"testing"
	"time"
)

func TestSeatTokens(t *testing.T) {
	key := seatKey([]byte("0123456789abcdef-secret"))
	c := seatClaims{Node: 2, Room: 0x02000005, Player: 0x01000009, Name: "ana", UserID: "sub-9", Expires: t0.Add(10 * time.Second)}
	tok := signSeat(key, &c)
	got, err := verifySeat(key, tok, 2, t0)
	if err != nil {
		t.Fatal(err)
	}
	if got.Room != c.Room || got.Player != c.Player || got.Name != "ana" || got.UserID != "sub-9" || got.Nonce == "" || !got.Expires.Equal(c.Expires) {
		t.Fatalf("claims %+v, want %+v", got, c)
	}
	pc := seatClaims{Node: 2, Player: 0x01000009, Name: "ana", Party: "BCDEFGHJ", Expires: c.Expires}
	if got, err := verifySeat(key, signSeat(key, &pc), 2, t0); err != nil || got.Party != "BCDEFGHJ" || got.Room != 0 {
		t.Fatalf("party seat: %+v, %v", got, err)
	}

	type seatCase struct {
		name  string
		token string
		node  uint8
		now   time.Time
		want  error
	}
	cases := []seatCase{
		{"other node", tok, 3, t0, ErrSeatOtherNode},
		{"expired", tok, 2, c.Expires, ErrSeatExpired},
		{"long expired", tok, 2, c.Expires.Add(time.Hour), ErrSeatExpired},
		{"other secret", signSeat(seatKey([]byte("another secret of 16+ bytes")), &seatClaims{Node: 2, Room: 1, Expires: c.Expires}), 2, t0, ErrSeatInvalid},
		{"empty", "", 2, t0, ErrSeatInvalid},
		{"prefix only", "s1.", 2, t0, ErrSeatInvalid},
		{"no signature", strings.Split(tok, ".")[0] + "." + strings.Split(tok, ".")[1], 2, t0, ErrSeatInvalid},
		{"too long", tok + strings.Repeat("A", maxTokenLen), 2, t0, ErrSeatInvalid},
	}
	// The signature spelled otherwise: its last character's unused low
	// bits set (the same bytes to a lenient decoder).
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
	last := strings.IndexByte(alphabet, tok[len(tok)-1])
	cases = append(cases, seatCase{"signature not in canonical form", tok[:len(tok)-1] + string(alphabet[last|1]), 2, t0, ErrSeatInvalid})
	// Every single-character change of the token is refused.
	for i := len(seatTokenPrefix); i < len(tok); i++ {
		b := []byte(tok)
		if b[i] == 'A' {
			b[i] = 'B'
		} else {
			b[i] = 'A'
		}
		cases = append(cases, seatCase{"tampered", string(b), 2, t0, ErrSeatInvalid})
	}
	for _, tc := range cases {
		if _, err := verifySeat(key, tc.token, tc.node, tc.now); !errors.Is(err, tc.want) {
			t.Errorf("%s: %v, want %v", tc.name, err, tc.want)
		}
	}
}

func TestSeatTokenOnce(t *testing.T) {
	var u usedSeats
	exp := t0.Add(time.Second)
	if err := u.take("n1", exp, t0); err != nil {
		t.Fatal(err)
	}
	if err := u.take("n1", exp, t0); !errors.Is(err, ErrSeatUsed) {
		t.Fatalf("second use: %v", err)
	}
	// Spent tokens are forgotten once expired (they fail on expiry then),
	// and the set stays bounded.
	for i := range maxUsedSeats - 1 {
		if err := u.take(strconv.Itoa(i), exp, t0); err != nil {
			t.Fatalf("take %d: %v", i, err)
		}
	}
	if err := u.take("one too many", exp, t0); !errors.Is(err, ErrSeatsBusy) {
		t.Fatalf("over the bound: %v", err)
	}
	if err := u.take("later", exp.Add(time.Second), exp); err != nil {
		t.Fatalf("after the others expired: %v", err)
	}
	if len(u.nonce) != 1 {
		t.Fatalf("%d nonces kept, want 1", len(u.nonce))
	}
}

func FuzzVerifySeat(f *testing.F) {
	key := seatKey([]byte("0123456789abcdef-secret"))
	f.Add(signSeat(key, &seatClaims{Node: 1, Room: 2, Expires: t0.Add(time.Second)}))
	f.Add("s1..")
	f.Add("s1.AAAA.BBBB")
	f.Fuzz(func(t *testing.T, tok string) {
		c, err := verifySeat(key, tok, 1, t0)
		if err == nil && signSeat(key, &c) != tok {
			// A valid token is exactly what signing its claims makes.
			t.Fatalf("accepted a token that signing does not produce: %q", tok)
		}
	})
}
