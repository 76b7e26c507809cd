package config

import (
	"bytes"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"

	"github.com/brocaar/lorawan"
)

// The devices file (devicesFile) lists devices in CSV, for fleets too long
// to type into the YAML. Two layouts are read:
//
//   - ThingPark's device import file, where it fits: rows whose first cell
//     is a directive. CREATE_OTAA (or UPDATE_OTAA) rows give B DevEUI,
//     C DevAddr (ignored for OTAA), D device model (ignored), E JoinEUI,
//     F AppKey. Rows starting with '#' are comments, as in ThingPark.
//     ThingPark's ABP columns are not read: use the layout below for ABP.
//   - A header row naming the columns, in any order and case, spaces and
//     underscores ignored: devEUI, activation (ABP or OTAA; optional, the
//     keys given tell), devAddr, nwkSKey, appSKey, joinEUI (or appEUI),
//     appKey, nwkKey (LoRaWAN 1.1 devices only), name, relaxFCnt,
//     payloadFormat.
//
// Hex values may carry '-', ':' or spaces between digit pairs, as labels
// print them. Every problem is reported with its line, and no key value is
// ever quoted in a message.

// MaxDevicesFileSize bounds what ReadDevicesFile reads.
const MaxDevicesFileSize = 16 << 20

// csvColumns maps normalised header names to the device field they fill.
var csvColumns = map[string]string{
	"deveui": "devEUI", "activation": "activation", "activationmode": "activation", "devaddr": "devAddr",
	"nwkskey": "nwkSKey", "appskey": "appSKey", "joineui": "joinEUI", "appeui": "joinEUI",
	"appkey": "appKey", "nwkkey": "nwkKey", "name": "name", "devicename": "name", "relaxfcnt": "relaxFCnt",
	"payloadformat": "payloadFormat",
}

// ReadDevicesFile reads and checks the devices file at path. Problems come
// back as *Error naming the file.
func ReadDevicesFile(path string) ([]Device, error) {
	devs, _, err := readDevicesFile(path)
	return devs, err
}

// readDevicesFile is ReadDevicesFile that also returns each device's line.
func readDevicesFile(path string) ([]Device, []int, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, fmt.Errorf("devicesFile: %w", err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, MaxDevicesFileSize+1))
	if err != nil {
		return nil, nil, fmt.Errorf("devicesFile: %w", err)
	}
	if len(data) > MaxDevicesFileSize {
		return nil, nil, fmt.Errorf("devicesFile: %s is larger than %s", path, ByteSize(MaxDevicesFileSize))
	}
	p := parseDevicesCSV(data)
	if len(p.probs) > 0 {
		return nil, nil, &Error{File: path, Problems: p.probs}
	}
	return p.devs, p.lines, nil
}

// ParseDevicesCSV reads devices from CSV text; see the layouts above.
// Problems carry the line and the column's name as Path.
func ParseDevicesCSV(data []byte) ([]Device, []Problem) {
	p := parseDevicesCSV(data)
	return p.devs, p.probs
}

func parseDevicesCSV(data []byte) *csvParser {
	data = bytes.TrimPrefix(data, []byte("\xef\xbb\xbf")) // spreadsheet exports start with a BOM
	r := csv.NewReader(bytes.NewReader(data))
	r.FieldsPerRecord = -1
	r.TrimLeadingSpace = true
	r.Comment = '#'
	r.ReuseRecord = true
	p := &csvParser{seen: map[lorawan.EUI64]int{}}
	for {
		rec, err := r.Read()
		if err == io.EOF {
			break
		}
		if err != nil {
			var pe *csv.ParseError
			if errors.As(err, &pe) {
				p.problem(pe.Line, "", "%v", pe.Err)
				if pe.Err != csv.ErrFieldCount {
					break // the reader cannot resynchronise after a quoting error
				}
				continue
			}
			p.problem(0, "", "%v", err)
			break
		}
		line, _ := r.FieldPos(0)
		p.row(line, rec)
	}
	return p
}

type csvParser struct {
	header map[string]int // field → column index, once a header was read
	devs   []Device
	lines  []int // of devs
	probs  []Problem
	seen   map[lorawan.EUI64]int // DevEUI → line
}

func (p *csvParser) problem(line int, col, format string, args ...any) {
	p.probs = append(p.probs, Problem{Line: line, Path: col, Msg: fmt.Sprintf(format, args...)})
}

func (p *csvParser) row(line int, rec []string) {
	for i := range rec {
		rec[i] = strings.TrimSpace(rec[i])
	}
	if len(rec) == 0 || len(rec) == 1 && rec[0] == "" {
		return
	}
	directive := strings.ToUpper(rec[0])
	switch {
	case directive == "CREATE_OTAA" || directive == "UPDATE_OTAA":
		get := func(i int) string {
			if i < len(rec) {
				return rec[i]
			}
			return ""
		}
		p.device(line, map[string]string{"activation": "OTAA", "devEUI": get(1), "joinEUI": get(4), "appKey": get(5)})
		return
	case strings.HasPrefix(directive, "CREATE_") || strings.HasPrefix(directive, "UPDATE_") || directive == "DELETE":
		p.problem(line, "", "directive %s is not read here: only CREATE_OTAA rows of ThingPark's import file are; give other devices with a header row (devEUI,activation,devAddr,nwkSKey,appSKey,joinEUI,appKey,name,relaxFCnt)", rec[0])
		return
	}
	if p.header == nil {
		p.readHeader(line, rec)
		return
	}
	fields := map[string]string{}
	for f, i := range p.header {
		if i < len(rec) {
			fields[f] = rec[i]
		}
	}
	p.device(line, fields)
}

func (p *csvParser) readHeader(line int, rec []string) {
	h := map[string]int{}
	for i, name := range rec {
		norm := strings.NewReplacer(" ", "", "_", "", "-", "").Replace(strings.ToLower(name))
		f, ok := csvColumns[norm]
		if !ok {
			p.problem(line, name, "unknown column %q; the columns are devEUI, activation, devAddr, nwkSKey, appSKey, joinEUI (or appEUI), appKey, nwkKey, name, relaxFCnt, payloadFormat", name)
			continue
		}
		if _, dup := h[f]; dup {
			p.problem(line, name, "column %s is given twice", f)
			continue
		}
		h[f] = i
	}
	if _, ok := h["devEUI"]; !ok {
		p.problem(line, "", "the first row must name the columns (devEUI first of all), or be a ThingPark CREATE_OTAA row")
	}
	p.header = h
}

// device checks one row's fields and adds the device.
func (p *csvParser) device(line int, f map[string]string) {
	n := len(p.probs)
	var d Device
	hexField := func(col string, dst []byte) bool {
		s := strings.NewReplacer("-", "", ":", "", " ", "").Replace(f[col])
		if s == "" {
			return false
		}
		b, msg := parseHex(col, s, len(dst))
		if msg != "" {
			p.problem(line, col, "%s", msg)
			return false
		}
		copy(dst, b)
		return true
	}
	if f["devEUI"] == "" {
		p.problem(line, "devEUI", "devEUI is required (16 hex digits, printed on the device's label)")
	} else {
		hexField("devEUI", d.DevEUI[:])
	}
	abp := []bool{hexField("devAddr", d.DevAddr[:]), hexField("nwkSKey", d.NwkSKey[:]), hexField("appSKey", d.AppSKey[:])}
	hexField("joinEUI", d.JoinEUI[:])
	otaa := hexField("appKey", d.AppKey[:])
	if hexField("nwkKey", d.NwkKey[:]) && !otaa && len(p.probs) == n {
		p.problem(line, "nwkKey", "nwkKey (LoRaWAN 1.1) goes with appKey: give both, or leave nwkKey out for a LoRaWAN 1.0 device")
	}
	d.Name = f["name"]
	switch strings.ToLower(f["relaxFCnt"]) {
	case "", "false", "no", "0":
	case "true", "yes", "1":
		d.RelaxFCnt = true
	default:
		p.problem(line, "relaxFCnt", "relaxFCnt must be true or false, got %q", f["relaxFCnt"])
	}
	if pf := f["payloadFormat"]; pf != "" {
		if !slices.Contains(PayloadFormats(), pf) {
			p.problem(line, "payloadFormat", "%s", oneOf("payloadFormat", pf, PayloadFormats()))
		}
		d.PayloadFormat = pf
	}
	nABP := count(abp)
	switch act := strings.ToUpper(f["activation"]); act {
	case "ABP":
		if nABP < 3 && len(p.probs) == n {
			p.problem(line, "", "ABP needs devAddr, nwkSKey and appSKey: %s missing", missing(abp, "devAddr", "nwkSKey", "appSKey"))
		}
	case "OTAA":
		if !otaa && len(p.probs) == n {
			p.problem(line, "appKey", "OTAA needs the appKey")
		}
	case "":
		switch {
		case nABP == 0 && !otaa && len(p.probs) == n:
			p.problem(line, "", "the device has neither an ABP session (devAddr, nwkSKey, appSKey) nor an appKey for OTAA")
		case nABP > 0 && nABP < 3 && len(p.probs) == n:
			p.problem(line, "", "partial ABP session: %s missing", missing(abp, "devAddr", "nwkSKey", "appSKey"))
		}
	default:
		p.problem(line, "activation", "activation must be ABP or OTAA, got %q", f["activation"])
	}
	d.ABP = nABP == 3
	if len(p.probs) > n {
		return
	}
	if first, dup := p.seen[d.DevEUI]; dup {
		p.problem(line, "devEUI", "devEUI %s is also on line %d; a device may be listed once", strings.ToUpper(d.DevEUI.String()), first)
		return
	}
	p.seen[d.DevEUI] = line
	p.devs = append(p.devs, d)
	p.lines = append(p.lines, line)
}

// addDevicesFile reads c.DevicesFile and appends its devices to those of
// the YAML; a device listed in both is a problem of the devices file.
func (c *Config) addDevicesFile() error {
	if c.DevicesFile == "" {
		return nil
	}
	devs, lines, err := readDevicesFile(c.DevicesFile)
	if err != nil {
		return err
	}
	inYAML := map[lorawan.EUI64]int{}
	for i, d := range c.Devices {
		inYAML[d.DevEUI] = i
	}
	var probs []Problem
	for j, d := range devs {
		if i, dup := inYAML[d.DevEUI]; dup {
			probs = append(probs, Problem{Line: lines[j], Path: "devEUI", Msg: fmt.Sprintf(
				"devEUI %s is also in the configuration file (%s); a device may be listed once", strings.ToUpper(d.DevEUI.String()), index("devices", i))})
		}
	}
	if len(probs) > 0 {
		return &Error{File: c.DevicesFile, Problems: probs}
	}
	c.Devices = append(c.Devices, devs...)
	return nil
}
