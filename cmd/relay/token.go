package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"time"

	"github.com/tickrelay/tickrelay/relay"
)

// tokenCmd mints a signed player token, as a game backend would, so a
// server run with -auth-secret can be tried by hand.
func tokenCmd(args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("relay token", flag.ContinueOnError)
	fs.SetOutput(stderr)
	secret := fs.String("secret", "", "HMAC secret (default: $RELAY_AUTH_SECRET)")
	sub := fs.String("sub", "", "player id in the game's backend (required)")
	name := fs.String("name", "", "display name")
	room := fs.String("room", "", "join code of the only room the player may join")
	ttl := fs.Duration("ttl", time.Hour, "how long the token is valid")
	fs.Usage = func() {
		fmt.Fprintf(stderr, "Usage: relay token -sub ID [-name NAME] [-room CODE] [-ttl 1h] [-secret S]\n\nPrints a signed token for hello's auth field.\n\n")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *secret == "" {
		*secret = getenv("RELAY_AUTH_SECRET")
	}
	if *secret == "" {
		return errors.New("token: -secret or RELAY_AUTH_SECRET is required")
	}
	tok, err := relay.MintToken([]byte(*secret), *sub, *name, *room, *ttl, time.Now())
	if err != nil {
		return err
	}
	fmt.Fprintln(stdout, tok)
	return nil
}
