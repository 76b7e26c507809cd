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
	seed   maphash.Seed
	window int64 // ns
	max    int
	expiry map[uint64]dedupEntry // hash of the PHYPayload → what it became
	order  []queued              // insertion order, so expiry order; order[head:] are queued
	head   int
}

type queued struct {
	key uint64
	exp int64
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
	d.sweep(now)
	for len(d.expiry) >= d.max && d.head < len(d.order) {
		d.pop() // full of live entries: the oldest makes room
	}
	exp := now + d.window
	d.expiry[k] = dedupEntry{exp: exp, devEUI: devEUI, fcnt: fcnt}
	d.order = append(d.order, queued{key: k, exp: exp})
}

// sweep forgets the entries whose window has passed, oldest first: O(1)
// per entry instead of a scan of the map on every add once it is full.
func (d *dedup) sweep(now int64) {
	for d.head < len(d.order) && now >= d.order[d.head].exp {
		d.pop()
	}
}

// pop drops the oldest queued key, and its map entry unless the frame was
// added again since (the map then holds the newer expiry).
func (d *dedup) pop() {
	q := d.order[d.head]
	d.order[d.head] = queued{}
	d.head++
	if e, ok := d.expiry[q.key]; ok && e.exp == q.exp {
		delete(d.expiry, q.key)
	}
	if d.head >= 1024 && d.head*2 >= len(d.order) {
		n := copy(d.order, d.order[d.head:])
		d.order = d.order[:n]
		d.head = 0
	}
}
