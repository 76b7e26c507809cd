package history

import (
	"sort"
	"sync"
	"time"
)

// Options size the history. Zero fields take the defaults.
type Options struct {
	Span      time.Duration // how far back; default 6 h
	Step      time.Duration // one value per step; default 1 min
	MaxSeries int           // per kind; default 256
	MaxPoints int           // signal points per device; default 240
}

func (o Options) withDefaults() Options {
	if o.Span <= 0 {
		o.Span = 6 * time.Hour
	}
	if o.Step <= 0 {
		o.Step = time.Minute
	}
	if o.MaxSeries <= 0 {
		o.MaxSeries = 256
	}
	if o.MaxPoints <= 0 {
		o.MaxPoints = 240
	}
	return o
}

// Uplink is one decoded uplink as the charts see it.
type Uplink struct {
	Device   string
	Gateways []string // every gateway that heard it
	RSSI     float64  // of the best reception
	SNR      float64
}

// Point is one uplink's signal.
type Point struct {
	Time      time.Time
	RSSI, SNR float64
}

// Series is one line of a chart, oldest value first; the first value is
// for the step that starts at Snapshot.Start.
type Series struct {
	ID      string
	Values  []int64 // uplinks per step, or the backlog's highest sample (-1: none)
	Signal  []Point // devices only, oldest first
	LastUse time.Time
}

// Snapshot is the whole history at one moment.
type Snapshot struct {
	Now, Start  time.Time
	Step        time.Duration
	Devices     []Series
	Gateways    []Series
	Connections []Series
}

// History is safe for concurrent use.
type History struct {
	opts    Options
	n       int   // steps kept
	stepSec int64 // Step in whole seconds; 0 when it is not

	mu    sync.Mutex
	kinds [3]map[string]*series // devices, gateways, connections
	// The series got last, per kind: the gateway's is nearly always the
	// next one asked for, and hashing its name cost about 200
	// instructions per uplink on 32-bit ARM. Cleared by any delete.
	lastID [3]string
	last   [3]*series
}

const (
	kindDevice = iota
	kindGateway
	kindConnection
)

type series struct {
	vals    []int32 // ring by step number; -1 = no value
	cur     int64   // the newest step written
	points  []point // ring
	head    int     // next point slot
	npoints int
	lastUse time.Time
}

// point is 12 bytes: seconds since the epoch fit in 32 bits until 2106.
type point struct {
	t         uint32
	rssi, snr float32
}

// New returns an empty history.
func New(opts Options) *History {
	opts = opts.withDefaults()
	h := &History{opts: opts, n: int(opts.Span / opts.Step)}
	if opts.Step%time.Second == 0 {
		h.stepSec = int64(opts.Step / time.Second)
	}
	for i := range h.kinds {
		h.kinds[i] = map[string]*series{}
	}
	return h
}

// step numbers t's step. On 32-bit ARM dividing nanoseconds by a minute
// (a divisor over 32 bits) is the runtime's bit-by-bit division, about
// 1,000 instructions per uplink; whole-second steps divide the Unix
// seconds instead, the same quotient for any time after 1970.
func (h *History) step(t *time.Time) int64 {
	if sec := t.Unix(); sec >= 0 && h.stepSec > 0 {
		return sec / h.stepSec
	}
	return t.UnixNano() / int64(h.opts.Step)
}

// get returns the series, making room for it if needed. now is a pointer:
// a time.Time copy is a runtime call on 32-bit ARM.
func (h *History) get(kind int, id string, now *time.Time) *series {
	m := h.kinds[kind]
	s := h.last[kind]
	if s == nil || id != h.lastID[kind] {
		s = m[id]
	}
	if s == nil {
		if len(m) >= h.opts.MaxSeries {
			var oldID string
			var old *series
			for k, v := range m {
				if old == nil || v.lastUse.Before(old.lastUse) {
					oldID, old = k, v
				}
			}
			delete(m, oldID)
			h.last[kind] = nil
		}
		s = &series{vals: make([]int32, h.n), cur: h.step(now)}
		// Filled by doubling copies: a loop over the 360 slots cost a
		// new device about 3,600 instructions on 32-bit ARM.
		if len(s.vals) > 0 {
			s.vals[0] = -1
		}
		for i := 1; i < len(s.vals); i *= 2 {
			copy(s.vals[i:], s.vals[:i])
		}
		m[id] = s
	}
	h.lastID[kind], h.last[kind] = id, s
	s.lastUse = *now
	return s
}

// advance clears the slots of the steps between the newest written and
// step, so that the ring holds only this span's values.
func (h *History) advance(s *series, step int64) {
	if step <= s.cur {
		return
	}
	for k := s.cur + 1; k <= step && k <= s.cur+int64(h.n); k++ {
		s.vals[int(k%int64(h.n))] = -1
	}
	s.cur = step
}

func (h *History) add(s *series, step int64, v int32, keepMax bool) {
	h.advance(s, step)
	if step <= s.cur-int64(h.n) || step > s.cur {
		return // older than the span
	}
	i := int(step % int64(h.n))
	switch {
	case s.vals[i] < 0:
		s.vals[i] = v
	case keepMax:
		s.vals[i] = max(s.vals[i], v)
	default:
		s.vals[i] += v
	}
}

// Uplinks records decoded uplinks heard at now.
func (h *History) Uplinks(now time.Time, ups []Uplink) {
	if len(ups) == 0 {
		return
	}
	st := h.step(&now)
	h.mu.Lock()
	defer h.mu.Unlock()
	for i := range ups {
		u := &ups[i]
		d := h.get(kindDevice, u.Device, &now)
		h.add(d, st, 1, false)
		if d.points == nil {
			d.points = make([]point, h.opts.MaxPoints)
		}
		d.points[d.head] = point{uint32(now.Unix()), float32(u.RSSI), float32(u.SNR)}
		d.head = (d.head + 1) % len(d.points)
		d.npoints = min(d.npoints+1, len(d.points))
		for _, g := range u.Gateways {
			h.add(h.get(kindGateway, g, &now), st, 1, false)
		}
	}
}

// Backlog records a connection's backlog sampled at now; a step keeps
// its highest sample.
func (h *History) Backlog(now time.Time, conn string, n int) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.add(h.get(kindConnection, conn, &now), h.step(&now), int32(min(n, 1<<31-1)), true)
}

// Snapshot copies the last steps (at most the span; 0 means all) up to
// now. Series not heard within the span are dropped.
func (h *History) Snapshot(now time.Time, steps int) Snapshot {
	if steps <= 0 || steps > h.n {
		steps = h.n
	}
	last := h.step(&now)
	first := last - int64(steps) + 1
	snap := Snapshot{Now: now, Start: time.Unix(0, first*int64(h.opts.Step)), Step: h.opts.Step}
	h.mu.Lock()
	defer h.mu.Unlock()
	out := [3]*[]Series{&snap.Devices, &snap.Gateways, &snap.Connections}
	for kind, m := range h.kinds {
		for id, s := range m {
			if now.Sub(s.lastUse) > h.opts.Span {
				delete(m, id)
				h.last[kind] = nil
				continue
			}
			zero := int64(0)
			if kind == kindConnection {
				zero = -1 // not sampled
			}
			vals := make([]int64, steps)
			for i := range vals {
				k := first + int64(i)
				v := zero
				if k <= s.cur && k > s.cur-int64(h.n) {
					if x := s.vals[int(k%int64(h.n))]; x >= 0 {
						v = int64(x)
					}
				}
				vals[i] = v
			}
			ser := Series{ID: id, Values: vals, LastUse: s.lastUse}
			for i := 0; i < s.npoints; i++ {
				p := s.points[(s.head-s.npoints+i+len(s.points))%len(s.points)]
				t := time.Unix(int64(p.t), 0)
				if t.Before(snap.Start) {
					continue
				}
				ser.Signal = append(ser.Signal, Point{t, float64(p.rssi), float64(p.snr)})
			}
			*out[kind] = append(*out[kind], ser)
		}
		l := *out[kind]
		sort.Slice(l, func(i, j int) bool { return l[i].ID < l[j].ID })
	}
	return snap
}
