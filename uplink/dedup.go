package uplink

import (
	"hash/maphash"
	"time"
)

// dedup remembers the PHYPayloads delivered (or accepted as MAC-only) within
// a window, so that the same frame from another datagram, antenna or source
// is dropped as a duplicate rather than counted as a replay. It is bounded:
// a flood evicts old entries instead of growing the map, and an evicted
// repeat still falls to the frame-counter check.
type dedup struct {
	seed      maphash.Seed
	window    int64 // ns
	max       int
	expiry    map[uint64]dedupEntry // hash of the PHYPayload → what it became
	nextSweep int64
}

// dedupEntry is a remembered frame: until when, and which uplink it was, so
// that a later copy's receptions can join that uplink.
type dedupEntry struct {
	exp    int64 // agent clock, unix ns
	devEUI [8]byte
	fcnt   uint32
}

func newDedup(window time.Duration, maxEntries int) dedup {
	return dedup{
		seed:   maphash.MakeSeed(),
		window: int64(window),
		max:    maxEntries,
		expiry: make(map[uint64]dedupEntry, min(maxEntries, 256)),
	}
}

// key hashes a PHYPayload; the random seed keeps collisions unforgeable.
func (d *dedup) key(phy []byte) uint64 { return maphash.Bytes(d.seed, phy) }

func (d *dedup) seen(k uint64, now int64) (dedupEntry, bool) {
	e, ok := d.expiry[k]
	return e, ok && now < e.exp
}

func (d *dedup) add(k uint64, now int64, devEUI [8]byte, fcnt uint32) {
	if now >= d.nextSweep || len(d.expiry) >= d.max {
		d.sweep(now)
	}
	if len(d.expiry) >= d.max {
		for old := range d.expiry {
			delete(d.expiry, old) // full of live entries: make room, any will do
			if len(d.expiry) < d.max {
				break
			}
		}
	}
	d.expiry[k] = dedupEntry{exp: now + d.window, devEUI: devEUI, fcnt: fcnt}
}

func (d *dedup) sweep(now int64) {
	for k, e := range d.expiry {
		if now >= e.exp {
			delete(d.expiry, k)
		}
	}
	d.nextSweep = now + d.window
}
