package cluster

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"

	"github.com/nats-io/nats.go"
	"github.com/tickrelay/tickrelay/relay/match"
)

// Messages between nodes are core NATS messages, at most once: each node
// listens on "<Name>.node.<id>" (direct messages, matchmaker traffic) and
// "<Name>.seat.<id>" (seat requests), and on "<Name>.chan.<channel>" for
// each lobby channel one of its players is in. Sending only queues: the
// sender goroutine publishes, so a slow NATS never holds the tick. Nothing
// is buffered while NATS is unreachable: sends fail at once then.

// outbound is one thing for the sender to do.
type outbound struct {
	subject string
	data    []byte
	kind    msgKind // for Stats; 0 for a reply
	sync    bool    // reconcile the channel subscriptions instead
}

// enqueue hands o to the sender without blocking.
func (n *Node) enqueue(o outbound) error {
	if n.closing.Load() {
		return ErrClosed
	}
	select {
	case n.out <- o:
		return nil
	default:
		n.stats.drop(dropOutboundFull)
		return ErrBacklog
	}
}

// send is the sender goroutine: it publishes what was queued and keeps the
// channel subscriptions as the relay asked.
func (n *Node) send() {
	defer n.wg.Done()
	subs := map[string]*nats.Subscription{}
	for {
		select {
		case <-n.ctx.Done():
			return // closing the connection ends the subscriptions
		case o := <-n.out:
			if o.sync {
				n.syncChannels(subs)
				continue
			}
			if err := n.nc.Publish(o.subject, o.data); err != nil {
				n.stats.drop(dropPublishFailed)
				continue
			}
			if o.kind != 0 {
				n.stats.sent[o.kind].Add(1)
			}
		}
	}
}

// respond queues a reply (to a seat request).
func (n *Node) respond(reply string, data []byte) {
	if reply != "" {
		_ = n.enqueue(outbound{subject: reply, data: data}) // a lost reply times out on the other side
	}
}

// sendTo queues m for node's subject. Messages for this node itself go
// straight to its inbox.
func (n *Node) sendTo(node uint8, m Message) error {
	if node == n.id {
		if !n.deliver(m) {
			return ErrBacklog
		}
		return nil
	}
	if err := n.canSend(node); err != nil {
		return err
	}
	b, err := n.encode(m)
	if err != nil {
		return err
	}
	return n.enqueue(outbound{subject: n.subject("node", node), data: b, kind: m.kind()})
}

// encode writes m and checks that the other nodes will read it (every
// field within their limits), so that what they would drop fails here.
func (n *Node) encode(m Message) ([]byte, error) {
	b, err := encodeMessage(nil, n.id, m)
	if err != nil {
		return nil, err
	}
	if _, _, err := decodeMessage(b); err != nil {
		return nil, fmt.Errorf("cluster: %v cannot be sent: %w", m.kind(), err)
	}
	return b, nil
}

// canSend checks that node is worth sending to.
func (n *Node) canSend(node uint8) error {
	switch {
	case n.closing.Load():
		return ErrClosed
	case !n.connected():
		return ErrDisconnected
	case !n.live(node):
		return ErrUnknownNode
	}
	return nil
}

// SendDM sends a direct message to a player of another node (m.To's).
// Whether that player exists is known only there: a message to a player
// that left is dropped.
func (n *Node) SendDM(m DirectMessage) error {
	to := NodeOf(m.To)
	if to == n.id {
		return ErrLocal
	}
	return n.sendTo(to, &m)
}

// JoinChannel makes this node receive the lines other nodes say in lobby
// channel name (while one of its players is in it). Idempotent.
func (n *Node) JoinChannel(name string) error { return n.setChannel(name, true) }

// LeaveChannel stops receiving channel name's lines (its last player of
// this node left it). Idempotent.
func (n *Node) LeaveChannel(name string) error { return n.setChannel(name, false) }

func (n *Node) setChannel(name string, on bool) error {
	if name == "" || len(name) > maxStr {
		return fmt.Errorf("cluster: channel name of %d bytes", len(name))
	}
	n.mu.Lock()
	if n.channels[name] == on {
		n.mu.Unlock()
		return nil
	}
	if on {
		n.channels[name] = true
	} else {
		delete(n.channels, name)
	}
	n.mu.Unlock()
	return n.enqueue(outbound{sync: true})
}

// channelSubject names a channel's subject: channel names are any bytes,
// subjects are not, so the name is base64url-encoded.
func (n *Node) channelSubject(name string) string {
	return n.cfg.Name + ".chan." + base64.RawURLEncoding.EncodeToString([]byte(name))
}

// syncChannels subscribes to the channels wanted and unsubscribes from the
// others; the sender goroutine owns subs.
func (n *Node) syncChannels(subs map[string]*nats.Subscription) {
	n.mu.Lock()
	want := make(map[string]bool, len(n.channels))
	for c := range n.channels {
		want[c] = true
	}
	n.mu.Unlock()
	for c, s := range subs {
		if !want[c] {
			_ = s.Unsubscribe()
			delete(subs, c)
		}
	}
	for c := range want {
		if subs[c] != nil {
			continue
		}
		s, err := n.nc.Subscribe(n.channelSubject(c), n.onChannelMsg)
		if err != nil {
			n.setError(err)
			continue // tried again at the next change
		}
		subs[c] = s
	}
}

// SayChannel sends a line to the other nodes listening to its channel.
func (n *Node) SayChannel(line ChannelLine) error {
	switch {
	case n.closing.Load():
		return ErrClosed
	case !n.connected():
		return ErrDisconnected
	case line.Channel == "" || len(line.Channel) > maxStr:
		return fmt.Errorf("cluster: channel name of %d bytes", len(line.Channel))
	}
	b, err := n.encode(&line)
	if err != nil {
		return err
	}
	return n.enqueue(outbound{subject: n.channelSubject(line.Channel), data: b, kind: kindChannelLine})
}

// toLeader sends matchmaker traffic to the leader.
func (n *Node) toLeader(m Message) error {
	leader, _ := n.Leader()
	if n.IsMatchmakerLeader() {
		leader = n.id
	}
	if leader == 0 {
		return ErrNoLeader
	}
	return n.sendTo(leader, m)
}

// SendTicket queues a ticket (its players are this node's) with the
// matchmaker's leader, this node or another. On a LeaderChanged, send
// every ticket still queued again.
func (n *Node) SendTicket(t match.Ticket) error {
	return n.toLeader(&TicketAdd{Origin: n.id, Ticket: t})
}

// CancelTicket withdraws a ticket from the leader's matchmaker.
func (n *Node) CancelTicket(id uint64) error {
	return n.toLeader(&TicketCancel{Origin: n.id, ID: id})
}

// SendBackfill asks the leader to fill open seats of a room of this node
// (b.ID is the room's global id).
func (n *Node) SendBackfill(b match.Backfill) error {
	return n.toLeader(&BackfillRequest{Origin: n.id, Backfill: b})
}

// CancelBackfill withdraws a backfill request.
func (n *Node) CancelBackfill(id uint64) error {
	return n.toLeader(&BackfillCancel{Origin: n.id, ID: id})
}

// SendMatch hands a match this node (the leader) formed to the node that
// will host its room.
func (n *Node) SendMatch(host uint8, m match.Match) error {
	term, err := n.leaderTermNow()
	if err != nil {
		return err
	}
	return n.sendTo(host, &MatchAssign{Leader: n.id, Term: term, Match: m})
}

// SendFill hands a backfill's players to the node of its room
// (NodeOf(uint32(f.Backfill))).
func (n *Node) SendFill(f match.Fill) error {
	term, err := n.leaderTermNow()
	if err != nil {
		return err
	}
	return n.sendTo(NodeOf(uint32(f.Backfill)), &FillAssign{Leader: n.id, Term: term, Fill: f})
}

func (n *Node) leaderTermNow() (uint64, error) {
	if !n.IsMatchmakerLeader() {
		return 0, ErrNotLeader
	}
	_, term := n.Leader()
	return term, nil
}

// SendMatchResult tells a player's node what became of its ticket.
func (n *Node) SendMatchResult(node uint8, r MatchResult) error {
	r.From = n.id
	return n.sendTo(node, &r)
}

// onNodeMsg takes a message on this node's subject (a NATS goroutine).
func (n *Node) onNodeMsg(msg *nats.Msg) {
	m, from, err := decodeMessage(msg.Data)
	if err != nil {
		n.stats.drop(dropMalformed)
		n.log.Debug().Err(err).Msg("cluster: unreadable message")
		return
	}
	if from == n.id {
		return // this node's own messages go to its inbox directly
	}
	k := m.kind()
	n.stats.received[k].Add(1)
	switch m := m.(type) {
	case *MatchAssign:
		if !n.fromLeader(m.Term) {
			return
		}
	case *FillAssign:
		if !n.fromLeader(m.Term) {
			return
		}
	case *ChannelLine:
		n.stats.drop(dropMalformed) // lines come on channel subjects
		return
	}
	if k.toLeader() && !n.IsMatchmakerLeader() {
		n.stats.drop(dropNotLeader) // its sender resends when it learns of the new leader
		return
	}
	n.deliver(m)
}

// fromLeader reports whether an assignment of term may be followed: not
// one from a leadership older than the one this node knows.
func (n *Node) fromLeader(term uint64) bool {
	if _, known := n.Leader(); term < known {
		n.stats.drop(dropStaleLeader)
		return false
	}
	return true
}

// onChannelMsg takes a lobby channel line (a NATS goroutine).
func (n *Node) onChannelMsg(msg *nats.Msg) {
	m, from, err := decodeMessage(msg.Data)
	line, ok := m.(*ChannelLine)
	if err != nil || !ok {
		n.stats.drop(dropMalformed)
		return
	}
	if from == n.id {
		return // said here: the relay delivered it already
	}
	n.stats.received[kindChannelLine].Add(1)
	n.deliver(line)
}

// onSeatRequest takes another node's seat request (a NATS goroutine).
func (n *Node) onSeatRequest(msg *nats.Msg) {
	req, from, err := decodeSeatRequest(msg.Data)
	if err != nil {
		n.stats.drop(dropMalformed)
		if msg.Reply != "" {
			n.respond(msg.Reply, appendSeatReply(nil, nil, &SeatRefused{Code: "bad_request", Message: "malformed seat request"}))
		}
		return
	}
	n.stats.received[kindSeatRequest].Add(1)
	call := &SeatCall{From: from, Request: req, n: n, reply: msg.Reply}
	select {
	case n.seats <- call:
	default:
		n.stats.drop(dropSeatQueueFull)
		call.Refuse("busy", "the node has too many seat requests waiting")
	}
}

// RequestSeat asks node for a seat (in one of its rooms, or in a room it
// makes for req.Create) and waits for the answer, up to ctx and at most
// SeatTimeout. The refusal of the owning node is a *SeatRefused. It
// blocks: the tick uses RequestSeatAsync.
func (n *Node) RequestSeat(ctx context.Context, node uint8, req SeatRequest) (Seat, error) {
	if node == n.id {
		return Seat{}, ErrLocal
	}
	if err := n.canSend(node); err != nil {
		return Seat{}, err
	}
	ctx, cancel := context.WithTimeout(ctx, n.cfg.SeatTimeout)
	defer cancel()
	n.stats.sent[kindSeatRequest].Add(1)
	msg, err := n.nc.RequestWithContext(ctx, n.subject("seat", node), appendSeatRequest(nil, n.id, &req))
	if err != nil {
		if errors.Is(err, nats.ErrNoResponders) {
			return Seat{}, ErrUnknownNode // it died since the directory last heard of it
		}
		return Seat{}, fmt.Errorf("cluster: seat request to node %d: %w", node, err)
	}
	n.stats.received[kindSeatReply].Add(1)
	s, err := decodeSeatReply(msg.Data)
	if err != nil {
		var ref *SeatRefused
		if !errors.As(err, &ref) {
			n.stats.drop(dropMalformed)
		}
		return Seat{}, err
	}
	return s, nil
}

// RequestSeatAsync is RequestSeat without waiting: the answer arrives on
// Inbox as a *SeatResult with tag, within SeatTimeout. At most 64 requests
// are in flight (ErrBusy beyond).
func (n *Node) RequestSeatAsync(node uint8, req SeatRequest, tag uint64) error {
	if node == n.id {
		return ErrLocal
	}
	if err := n.canSend(node); err != nil {
		return err
	}
	select {
	case n.seatSlots <- struct{}{}:
	default:
		return ErrBusy
	}
	n.mu.Lock() // Shutdown sets closing under mu: no Add once its Wait may have begun
	if n.closing.Load() {
		n.mu.Unlock()
		<-n.seatSlots
		return ErrClosed
	}
	n.wg.Add(1)
	n.mu.Unlock()
	go func() {
		defer n.wg.Done()
		defer func() { <-n.seatSlots }()
		s, err := n.RequestSeat(n.ctx, node, req)
		if n.ctx.Err() == nil {
			n.deliver(&SeatResult{Tag: tag, Seat: s, Err: err})
		}
	}()
	return nil
}
