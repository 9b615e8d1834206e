package match

import "fmt"

// Check reports whether Add would accept t: a known mode, players not
// queued here, skills, properties, regions and a size that fits the queue.
// It changes nothing. A relay whose tickets are queued by another
// process's matchmaker (a cluster's leader, with the same configuration)
// checks them first, so that a player learns at once what that matchmaker
// would refuse; only its Add can tell about its own queue (full, or the
// region names it holds).
func (m *Matchmaker) Check(t Ticket) error {
	rules, err := m.rulesFor(t.Mode)
	if err != nil {
		return fmt.Errorf("ticket %d: %w", t.ID, err)
	}
	if err := m.checkTicket(&t, &rules); err != nil {
		return fmt.Errorf("ticket %d: %w", t.ID, err)
	}
	if _, err := m.propsKey(t.Props); err != nil {
		return fmt.Errorf("ticket %d: %w", t.ID, err)
	}
	for _, r := range t.Regions {
		if len(r) > MaxRegionLen {
			return fmt.Errorf("ticket %d: %w: region %.20q… is longer than %d bytes", t.ID, ErrInvalid, r, MaxRegionLen)
		}
	}
	return nil
}

// CheckBackfill reports whether RequestBackfill would accept req for its
// own sake (a known mode, seats, skill, properties, region), as Check does
// for tickets. It changes nothing: a relay whose backfills go to another
// process's matchmaker validates them here without keeping them.
func (m *Matchmaker) CheckBackfill(req Backfill) error {
	if _, _, _, err := m.checkBackfill(&req); err != nil {
		return err
	}
	if len(req.Region) > MaxRegionLen {
		return fmt.Errorf("backfill %d: %w: region %.20q… is longer than %d bytes", req.ID, ErrInvalid, req.Region, MaxRegionLen)
	}
	return nil
}
