package lpp

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Reading is one value of one item. Multi-axis types (accelerometer,
// gyrometer, GPS, colour) give one reading per axis, all with the item's
// channel and type.
type Reading struct {
	Channel uint8   `json:"channel"`
	Type    string  `json:"type"`  // the LPP type, e.g. "temperature", "gps"
	Name    string  `json:"name"`  // the quantity, e.g. "temperature", "latitude"
	Value   float64 `json:"value"` // already scaled to Unit
	Unit    string  `json:"unit,omitempty"`
	// Decimals is how many decimals the type's resolution carries, for
	// printing 23.7 rather than 23.700000000000003.
	Decimals int `json:"-"`
}

// String reads as "temperature 23.7 °C"; a Unix time reads as a UTC date.
func (r Reading) String() string {
	if r.Type == "unix time" {
		return r.Name + " " + time.Unix(int64(r.Value), 0).UTC().Format("2006-01-02 15:04:05 UTC")
	}
	s := r.Name + " " + strconv.FormatFloat(r.Value, 'f', r.Decimals, 64)
	if r.Unit != "" {
		s += " " + r.Unit
	}
	return s
}

// Format joins readings for one line of text; a name that appears on
// several channels gets its channel, so that two temperatures can be told
// apart.
func Format(rs []Reading) string {
	seen := map[string]uint8{}
	dup := map[string]bool{}
	for _, r := range rs {
		if c, ok := seen[r.Name]; ok && c != r.Channel {
			dup[r.Name] = true
		}
		seen[r.Name] = r.Channel
	}
	parts := make([]string, 0, len(rs))
	for _, r := range rs {
		s := r.String()
		if dup[r.Name] {
			s += " (ch " + strconv.Itoa(int(r.Channel)) + ")"
		}
		parts = append(parts, s)
	}
	return strings.Join(parts, ", ")
}

// field is one value inside an item's data.
type field struct {
	name   string
	size   int  // bytes, big-endian
	signed bool // two's complement
	div    float64
	unit   string
}

// kind is one LPP data type.
type kind struct {
	name   string
	fields []field
}

func (k kind) size() int {
	n := 0
	for _, f := range k.fields {
		n += f.size
	}
	return n
}

func one(name string, size int, signed bool, div float64, unit string) []field {
	return []field{{name, size, signed, div, unit}}
}

func axes(size int, div float64, unit string, names ...string) []field {
	out := make([]field, len(names))
	for i, n := range names {
		out[i] = field{n, size, true, div, unit}
	}
	return out
}

// kinds maps the LPP type byte (IPSO object id − 3200) to its layout.
// Sizes, resolutions and signedness follow myDevices' reference table and
// the extended types of the ElectronicCats CayenneLPP library.
var kinds = map[byte]kind{
	0:   {"digital input", one("digital input", 1, false, 1, "")},
	1:   {"digital output", one("digital output", 1, false, 1, "")},
	2:   {"analog input", one("analog input", 2, true, 100, "")},
	3:   {"analog output", one("analog output", 2, true, 100, "")},
	100: {"generic sensor", one("generic sensor", 4, false, 1, "")},
	101: {"illuminance", one("illuminance", 2, false, 1, "lx")},
	102: {"presence", one("presence", 1, false, 1, "")},
	103: {"temperature", one("temperature", 2, true, 10, "°C")},
	104: {"humidity", one("humidity", 1, false, 2, "%")},
	113: {"accelerometer", axes(2, 1000, "g", "acceleration x", "acceleration y", "acceleration z")},
	115: {"barometer", one("pressure", 2, false, 10, "hPa")},
	116: {"voltage", one("voltage", 2, false, 100, "V")},
	117: {"current", one("current", 2, false, 1000, "A")},
	118: {"frequency", one("frequency", 4, false, 1, "Hz")},
	120: {"percentage", one("percentage", 1, false, 1, "%")},
	121: {"altitude", one("altitude", 2, true, 1, "m")},
	125: {"concentration", one("concentration", 2, false, 1, "ppm")},
	128: {"power", one("power", 2, false, 1, "W")},
	130: {"distance", one("distance", 4, false, 1000, "m")},
	131: {"energy", one("energy", 4, false, 1000, "kWh")},
	132: {"direction", one("direction", 2, false, 1, "°")},
	133: {"unix time", one("unix time", 4, false, 1, "s")},
	134: {"gyrometer", axes(2, 100, "°/s", "rotation x", "rotation y", "rotation z")},
	135: {"colour", []field{{"red", 1, false, 1, ""}, {"green", 1, false, 1, ""}, {"blue", 1, false, 1, ""}}},
	136: {"gps", []field{{"latitude", 3, true, 10000, "°"}, {"longitude", 3, true, 10000, "°"}, {"altitude", 3, true, 100, "m"}}},
	142: {"switch", one("switch", 1, false, 1, "")},
}

// ErrEmpty is returned for a payload of no bytes: nothing to show.
var ErrEmpty = errors.New("lpp: empty payload")

// Error tells where a payload stopped being LPP.
type Error struct {
	Offset int
	Reason string
}

func (e *Error) Error() string {
	return fmt.Sprintf("not Cayenne LPP at byte %d: %s", e.Offset, e.Reason)
}

// Decode reads a whole payload, or returns an *Error (ErrEmpty for no
// bytes) and no readings: a partial decode is never returned.
func Decode(b []byte) ([]Reading, error) {
	if len(b) == 0 {
		return nil, ErrEmpty
	}
	var out []Reading
	for i := 0; i < len(b); {
		if len(b)-i < 2 {
			return nil, &Error{i, "a channel without a type"}
		}
		ch, t := b[i], b[i+1]
		k, ok := kinds[t]
		if !ok {
			return nil, &Error{i + 1, fmt.Sprintf("unknown type 0x%02x", t)}
		}
		data := b[i+2:]
		if len(data) < k.size() {
			return nil, &Error{i, fmt.Sprintf("%s needs %d bytes, %d left", k.name, k.size(), len(data))}
		}
		for _, f := range k.fields {
			v := uint64(0)
			for _, c := range data[:f.size] {
				v = v<<8 | uint64(c)
			}
			n := int64(v)
			if f.signed && v&(1<<(8*f.size-1)) != 0 {
				n -= 1 << (8 * f.size)
			}
			out = append(out, Reading{Channel: ch, Type: k.name, Name: f.name, Value: float64(n) / f.div,
				Unit: f.unit, Decimals: decimals(f.div)})
			data = data[f.size:]
		}
		i += 2 + k.size()
	}
	return out, nil
}

func decimals(div float64) int {
	d := 0
	for ; div > 1; div /= 10 {
		d++
	}
	return d
}
