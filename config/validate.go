package config

import (
	"fmt"
	"slices"
	"strings"

	"github.com/brocaar/lorawan"
)

// Validate checks a configuration built in code (the local API, tests) with
// the rules Parse applies to a file. Problems carry paths but no lines.
// Call Complete first when the configuration may leave derived fields out.
func (c *Config) Validate() error {
	_, err := c.Check()
	return err
}

// Check is Validate that also returns the warnings, for callers that log
// them.
func (c *Config) Check() ([]Warning, error) {
	ch := &checker{}
	c.check(ch)
	if len(ch.probs) > 0 {
		return ch.warns, &Error{Problems: ch.probs}
	}
	return ch.warns, nil
}

// checker collects problems found in a decoded Config. From a file it knows
// which keys were given and where; from code it knows neither.
type checker struct {
	probs []Problem
	warns []Warning
	given func(path string) bool            // nil: a field is given when it is not zero
	pos   func(path string) (line, col int) // nil: no positions
	// broken are paths the reader found unreadable; nothing under them is
	// checked again.
	broken map[string]bool
}

func (ch *checker) at(path string) (int, int) {
	if ch.pos == nil {
		return 0, 0
	}
	return ch.pos(path)
}

func (ch *checker) problem(path, format string, args ...any) {
	l, c := ch.at(path)
	ch.probs = append(ch.probs, Problem{Line: l, Column: c, Path: path, Msg: fmt.Sprintf(format, args...)})
}

func (ch *checker) warn(path, format string, args ...any) {
	l, c := ch.at(path)
	ch.warns = append(ch.warns, Warning{Line: l, Column: c, Path: path, Msg: fmt.Sprintf(format, args...)})
}

// has tells whether the field at path was set: given in the file, or not
// zero in code.
func (ch *checker) has(path string, nonzero bool) bool {
	if ch.given != nil {
		return ch.given(path)
	}
	return nonzero
}

// where names path with its line, for messages that point at two places.
func (ch *checker) where(path string) string {
	if l, _ := ch.at(path); l > 0 {
		return fmt.Sprintf("%s (line %d)", path, l)
	}
	return path
}

func (c *Config) checkDevices(ch *checker) {
	var zeroEUI lorawan.EUI64
	var zeroKey lorawan.AES128Key
	var zeroAddr lorawan.DevAddr
	seen := map[lorawan.EUI64]int{}
	for i, d := range c.Devices {
		p := index("devices", i)
		if ch.broken[p] {
			continue
		}
		if !ch.has(p+".devEUI", d.DevEUI != zeroEUI) {
			ch.problem(p, "devEUI is required (16 hex digits, printed on the device's label)")
		} else if d.DevEUI != zeroEUI {
			if j, dup := seen[d.DevEUI]; dup {
				ch.problem(p+".devEUI", "devEUI %s is used twice: %s and %s; a device may be listed once", strings.ToUpper(d.DevEUI.String()), ch.where(index("devices", j)+".devEUI"), ch.where(p+".devEUI"))
			} else {
				seen[d.DevEUI] = i
			}
		}
		if d.PayloadFormat != "" && !slices.Contains(PayloadFormats(), d.PayloadFormat) {
			ch.problem(p+".payloadFormat", "%s", oneOf("payloadFormat", d.PayloadFormat, PayloadFormats()))
		}
		abp := []bool{
			ch.has(p+".devAddr", d.ABP || d.DevAddr != zeroAddr),
			ch.has(p+".nwkSKey", d.ABP || d.NwkSKey != zeroKey),
			ch.has(p+".appSKey", d.ABP || d.AppSKey != zeroKey),
		}
		otaa := []bool{
			// 0000000000000000 is a JoinEUI many LoRaWAN 1.0 devices use,
			// so in code an appKey is enough to say OTAA was meant.
			ch.has(p+".joinEUI", d.JoinEUI != zeroEUI || d.AppKey != zeroKey) || ch.has(p+".appEUI", false),
			ch.has(p+".appKey", d.AppKey != zeroKey),
		}
		nABP, nOTAA := count(abp), count(otaa)
		switch {
		case nABP == 0 && nOTAA == 0:
			ch.problem(p, "the device has neither an ABP session (devAddr, nwkSKey, appSKey) nor OTAA keys (joinEUI, appKey)")
		case nABP > 0 && nABP < 3:
			ch.problem(p, "partial ABP session: %s missing; ABP needs devAddr, nwkSKey and appSKey", missing(abp, "devAddr", "nwkSKey", "appSKey"))
		}
		if nOTAA == 1 {
			ch.problem(p, "partial OTAA keys: %s missing; OTAA needs joinEUI and appKey", missing(otaa, "joinEUI", "appKey"))
		}
		if ch.has(p+".nwkKey", d.NwkKey != zeroKey) && !otaa[1] {
			ch.problem(p+".nwkKey", "nwkKey (LoRaWAN 1.1) goes with appKey: give both, or leave nwkKey out for a LoRaWAN 1.0 device")
		}
	}
}

func count(bs []bool) int {
	n := 0
	for _, b := range bs {
		if b {
			n++
		}
	}
	return n
}

// missing names the keys whose flag is false: "appSKey is", "nwkSKey and
// appSKey are".
func missing(given []bool, names ...string) string {
	var out []string
	for i, g := range given {
		if !g {
			out = append(out, names[i])
		}
	}
	if len(out) == 1 {
		return out[0] + " is"
	}
	return strings.Join(out, " and ") + " are"
}
