package match

import (
	"errors"
	"fmt"
	"math/bits"
)

// anyRegion is the region set of a ticket that accepts every region.
const anyRegion = ^uint64(0)

// ErrTooManyRegions refuses a ticket or backfill that would bring the
// region names in use past MaxRegions.
var ErrTooManyRegions = errors.New("too many distinct regions in use")

// regionTable gives each region name in use a bit, so that a ticket's
// acceptable regions are a uint64 and the regions two tickets share are
// one AND. A name keeps its bit while a queued ticket or open backfill
// names it; then the bit is free for another name. Counting references
// keeps a stream of made-up names from exhausting the table.
type regionTable struct {
	names [MaxRegions]string
	refs  [MaxRegions]int32
	index map[string]uint8
}

// acquire returns the bits of names (appending them to bitsOut in order)
// and their set, taking a reference on each. On error it takes none.
func (rt *regionTable) acquire(names []string, bitsOut []uint8) ([]uint8, uint64, error) {
	if len(names) == 0 {
		return bitsOut, anyRegion, nil
	}
	if rt.index == nil {
		rt.index = make(map[string]uint8)
	}
	var set uint64
	start := len(bitsOut)
	for _, n := range names {
		switch {
		case n == "":
			rt.releaseBits(bitsOut[start:])
			return bitsOut[:start], 0, errors.New("a region name is empty")
		case len(n) > MaxRegionLen:
			rt.releaseBits(bitsOut[start:])
			return bitsOut[:start], 0, fmt.Errorf("region %.20q… is longer than %d bytes", n, MaxRegionLen)
		}
		b, ok := rt.index[n]
		if !ok {
			free := ^rt.used()
			if free == 0 {
				rt.releaseBits(bitsOut[start:])
				return bitsOut[:start], 0, fmt.Errorf("%w: region %q would be number %d", ErrTooManyRegions, n, MaxRegions+1)
			}
			b = uint8(bits.TrailingZeros64(free))
			rt.names[b] = n
			rt.index[n] = b
		}
		if set&(1<<b) != 0 {
			rt.releaseBits(bitsOut[start:])
			return bitsOut[:start], 0, fmt.Errorf("region %q is listed twice", n)
		}
		set |= 1 << b
		rt.refs[b]++
		bitsOut = append(bitsOut, b)
	}
	return bitsOut, set, nil
}

// used is the set of bits that name a region.
func (rt *regionTable) used() uint64 {
	var u uint64
	for b, n := range rt.refs {
		if n > 0 {
			u |= 1 << b
		}
	}
	return u
}

func (rt *regionTable) releaseBits(bs []uint8) {
	for _, b := range bs {
		rt.refs[b]--
		if rt.refs[b] == 0 {
			rt.drop(b)
		}
	}
}

func (rt *regionTable) drop(b uint8) {
	delete(rt.index, rt.names[b])
	rt.names[b] = ""
}

// name returns the name of bit b.
func (rt *regionTable) name(b uint8) string { return rt.names[b] }

// inUse is how many region names are in use.
func (rt *regionTable) inUse() int { return len(rt.index) }
