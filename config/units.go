package config

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// Std returns the duration as a time.Duration.
func (d Duration) Std() time.Duration { return time.Duration(d) }

// String writes the duration the way IoT Flow does ("72h", "5m", "1h30m"),
// without time.Duration's trailing zero units.
func (d Duration) String() string {
	s := time.Duration(d).String()
	if strings.HasSuffix(s, "m0s") {
		s = s[:len(s)-2]
	}
	if strings.HasSuffix(s, "h0m") {
		s = s[:len(s)-2]
	}
	return s
}

// MarshalText lets JSON (the local API) and YAML write "72h" rather than
// nanoseconds.
func (d Duration) MarshalText() ([]byte, error) { return []byte(d.String()), nil }

// UnmarshalText accepts what ParseDuration accepts.
func (d *Duration) UnmarshalText(b []byte) error {
	v, err := ParseDuration(string(b))
	if err != nil {
		return err
	}
	*d = v
	return nil
}

// ParseDuration reads a Go duration ("90s", "1h30m") that may also use days
// and weeks ("2d", "1w", "1d12h"), since uplink validities are written in
// days. Negative durations are refused; zero is allowed here and checked by
// the caller where it makes no sense.
func ParseDuration(s string) (Duration, error) {
	in := strings.TrimSpace(s)
	if in == "" {
		return 0, errors.New("empty duration")
	}
	if in == "0" {
		return 0, nil
	}
	var total float64
	rest := in
	for rest != "" {
		i := 0
		for i < len(rest) && (rest[i] >= '0' && rest[i] <= '9' || rest[i] == '.') {
			i++
		}
		if i == 0 {
			return 0, fmt.Errorf("%q is not a duration; write e.g. 30s, 5m, 72h or 2d", in)
		}
		num := rest[:i]
		j := i
		for j < len(rest) && !(rest[j] >= '0' && rest[j] <= '9' || rest[j] == '.') {
			j++
		}
		unit := strings.TrimSpace(rest[i:j])
		rest = rest[j:]
		if unit == "" {
			return 0, fmt.Errorf("%q has no unit; write e.g. %ss", in, num)
		}
		n, err := strconv.ParseFloat(num, 64)
		if err != nil {
			return 0, fmt.Errorf("%q is not a duration; write e.g. 30s, 5m, 72h or 2d", in)
		}
		mult, ok := durationUnits(unit)
		if !ok {
			return 0, fmt.Errorf("%q has an unknown unit %q; use ms, s, m, h, d or w", in, unit)
		}
		total += n * float64(mult)
		if total >= math.MaxInt64 {
			return 0, fmt.Errorf("%q is too long", in)
		}
	}
	return Duration(total), nil
}

func durationUnits(u string) (time.Duration, bool) {
	switch u {
	case "ns":
		return time.Nanosecond, true
	case "us", "\u00b5s", "\u03bcs":
		return time.Microsecond, true
	case "ms":
		return time.Millisecond, true
	case "s":
		return time.Second, true
	case "m":
		return time.Minute, true
	case "h":
		return time.Hour, true
	case "d":
		return 24 * time.Hour, true
	case "w":
		return 7 * 24 * time.Hour, true
	}
	return 0, false
}

// Byte-size units.
const (
	KiB ByteSize = 1 << 10
	MiB ByteSize = 1 << 20
	GiB ByteSize = 1 << 30
)

// String writes the size in the largest binary unit that divides it.
func (s ByteSize) String() string {
	switch {
	case s != 0 && s%GiB == 0:
		return strconv.FormatInt(int64(s/GiB), 10) + "GiB"
	case s != 0 && s%MiB == 0:
		return strconv.FormatInt(int64(s/MiB), 10) + "MiB"
	case s != 0 && s%KiB == 0:
		return strconv.FormatInt(int64(s/KiB), 10) + "KiB"
	}
	return strconv.FormatInt(int64(s), 10)
}

// MarshalText writes "64MiB" rather than 67108864.
func (s ByteSize) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// UnmarshalText accepts what ParseByteSize accepts.
func (s *ByteSize) UnmarshalText(b []byte) error {
	v, err := ParseByteSize(string(b))
	if err != nil {
		return err
	}
	*s = v
	return nil
}

// ParseByteSize reads a plain number of bytes or a number with a unit:
// KiB, MiB, GiB (powers of 1024) or kB, MB, GB (powers of 1000), in any
// case and with or without a space ("64MiB", "256 MB").
func ParseByteSize(s string) (ByteSize, error) {
	in := strings.TrimSpace(s)
	i := 0
	for i < len(in) && (in[i] >= '0' && in[i] <= '9' || in[i] == '.') {
		i++
	}
	if i == 0 {
		return 0, fmt.Errorf("%q is not a size; write e.g. 64MiB, 256MB or a number of bytes", in)
	}
	n, err := strconv.ParseFloat(in[:i], 64)
	if err != nil {
		return 0, fmt.Errorf("%q is not a size; write e.g. 64MiB, 256MB or a number of bytes", in)
	}
	var mult float64
	switch strings.ToLower(strings.TrimSpace(in[i:])) {
	case "", "b":
		mult = 1
	case "k", "kb":
		mult = 1e3
	case "m", "mb":
		mult = 1e6
	case "g", "gb":
		mult = 1e9
	case "kib":
		mult = 1 << 10
	case "mib":
		mult = 1 << 20
	case "gib":
		mult = 1 << 30
	default:
		return 0, fmt.Errorf("%q has an unknown unit %q; use KiB, MiB, GiB, kB, MB or GB", in, strings.TrimSpace(in[i:]))
	}
	v := n * mult
	if v >= math.MaxInt64 {
		return 0, fmt.Errorf("%q is too large", in)
	}
	if v != math.Trunc(v) {
		return 0, fmt.Errorf("%q is not a whole number of bytes", in)
	}
	return ByteSize(v), nil
}
