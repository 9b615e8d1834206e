package client

import (
	"context"
	"fmt"
	"time"

	"github.com/tickrelay/tickrelay/codec"
)

// A relay in a cluster answers a request for a room on another node with a
// redirect: the other node's addresses and a short-lived seat token. The
// client follows it by itself: it leaves this node (bye), connects to the
// other one over the same transport with a fresh hello, and takes its seat
// with join_seat. The game sees the request succeed; the player's id
// changes (ids are given per node), and Messages goes on.

// maxRedirects bounds how many nodes one request may send the client to.
const maxRedirects = 2

// maybeFollow returns m, or, if m is a redirect, what the request gets on
// the node it names.
func (c *Client) maybeFollow(ctx context.Context, m *codec.ServerMsg) (*codec.ServerMsg, error) {
	for i := 0; m.Type == codec.TRedirect; i++ {
		if i == maxRedirects {
			return nil, &Error{Code: codec.CodeBadRequest, Message: "redirected too many times"}
		}
		if err := c.moveTo(ctx, m); err != nil {
			return nil, err
		}
		var err error
		if m, err = c.request(ctx, &codec.ClientMsg{Type: codec.TJoinSeat, Code: []byte(m.Token)}); err != nil {
			return nil, err
		}
	}
	return m, nil
}

// moveTo closes this connection with a goodbye and connects to the node
// redirect r names, as a new player there.
func (c *Client) moveTo(ctx context.Context, r *codec.ServerMsg) error {
	c.wmu.Lock()
	addr := r.KCPAddr
	if isWebSocket(c.addr) && r.WSURL != "" {
		addr = r.WSURL
	}
	c.addr = addr
	c.wmu.Unlock()
	_ = c.send(&codec.ClientMsg{Type: codec.TBye})
	c.retireConn(func() { c.view, c.party = RoomView{}, Party{} }, true)
	props, err := encodeProps(c.opt.Props)
	if err != nil {
		return err
	}
	w, err := c.handshake(ctx, &codec.ClientMsg{Type: codec.THello, Version: codec.ProtocolVersion,
		Name: []byte(c.opt.Name), Props: props, Auth: []byte(c.opt.AuthToken)})
	if err != nil {
		c.shut(err)
		return err
	}
	c.id.Store(w.PlayerID)
	return nil
}

// followLater follows a redirect the server sent on its own (rid 0: the
// matchmaker placed this player in a room on another node, as the match
// message before it said). It runs beside the reader, which the move
// replaces; a failure closes the client, as a failed request's move does.
func (c *Client) followLater(r *codec.ServerMsg) {
	c.wg.Add(1)
	go func() {
		defer c.wg.Done()
		ctx, cancel := context.WithTimeout(context.Background(), followTimeout)
		defer cancel()
		stop := make(chan struct{})
		defer close(stop)
		go func() { // the client's end cancels the move
			select {
			case <-c.done:
				cancel()
			case <-stop:
			}
		}()
		if err := c.moveTo(ctx, r); err != nil {
			return
		}
		if _, err := c.request(ctx, &codec.ClientMsg{Type: codec.TJoinSeat, Code: []byte(r.Token)}); err != nil {
			c.shut(fmt.Errorf("relay client: taking the matched seat on node %d: %w", r.Node, err))
		}
	}()
}

// followTimeout bounds a move to another node that no request waits for.
const followTimeout = 10 * time.Second

// JoinSeat takes a seat reserved on this node (the token from a redirect).
// The client follows redirects by itself; this is for clients that manage
// their connections themselves.
func (c *Client) JoinSeat(ctx context.Context, token string) (Joined, error) {
	m, err := c.request(ctx, &codec.ClientMsg{Type: codec.TJoinSeat, Code: []byte(token)})
	if err != nil {
		return Joined{}, err
	}
	return joined(m), nil
}
