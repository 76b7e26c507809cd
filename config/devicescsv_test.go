package config

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const (
	csvKey1 = "2B7E151628AED2A6ABF7158809CF4F3C"
	csvKey2 = "3C4FCF098815F7ABA6D2AE2816157E2B"
)

func TestDevicesCSVHeaderLayout(t *testing.T) {
	devs, probs := ParseDevicesCSV([]byte("\ufeff" + // a spreadsheet's BOM
		"DevEUI, Activation, dev_addr, NWKSKEY, AppSKey, AppEUI, appKey, Name, relaxFCnt\n" +
		"70B3D57ED0000101,abp,260B0101," + csvKey1 + "," + csvKey2 + ",,,meter 1,yes\n" +
		"\n" +
		"70:b3:d5:7e:d0:00:01:02, , , , , 70B3D57ED0000000, " + csvKey1 + ", \"door, back\",\n"))
	if len(probs) > 0 {
		t.Fatal(probs)
	}
	if len(devs) != 2 {
		t.Fatalf("%d devices", len(devs))
	}
	a, o := devs[0], devs[1]
	if !a.ABP || !a.RelaxFCnt || a.DevAddr.String() != "260b0101" || a.NwkSKey.String() != strings.ToLower(csvKey1) || a.Name != "meter 1" {
		t.Errorf("ABP device %+v", a)
	}
	if o.ABP || o.DevEUI.String() != "70b3d57ed0000102" || o.AppKey.String() != strings.ToLower(csvKey1) || o.Name != "door, back" {
		t.Errorf("OTAA device %+v", o)
	}
}

func TestDevicesCSVThingPark(t *testing.T) {
	data, err := os.ReadFile("testdata/valid/thingpark-devices.csv")
	if err != nil {
		t.Fatal(err)
	}
	devs, probs := ParseDevicesCSV(data)
	if len(probs) > 0 || len(devs) != 2 {
		t.Fatalf("%v %v", devs, probs)
	}
	if devs[0].JoinEUI.String() != "8899aabbccddeeff" || devs[1].DevEUI.String() != "f03d291000f00002" || devs[0].ABP {
		t.Errorf("%+v", devs)
	}
}

// Every problem names its line and column, and no key is quoted.
func TestDevicesCSVProblems(t *testing.T) {
	bad := csvKey1[:31] + "G"
	data := "devEUI,activation,devAddr,nwkSKey,appSKey,joinEUI,appKey,relaxFCnt\n" + // 1
		"70B3D57ED0000101,ABP,260B0101," + csvKey1 + "," + csvKey2 + ",,,\n" + // 2
		"70B3D57ED0000101,OTAA,,,,," + csvKey1 + ",\n" + // 3 duplicate
		"70B3D57ED0000103,OTAA,,,,," + bad + ",\n" + // 4 malformed key
		"70B3D57ED0000104,ABP,260B0104," + csvKey1 + ",,,,\n" + // 5 partial ABP
		"70B3D57ED0000105,MAGIC,,,,," + csvKey1 + ",\n" + // 6
		"70B3D57ED000010,,,,,," + csvKey1 + ",\n" + // 7 short EUI
		"70B3D57ED0000107,,,,,," + csvKey1 + ",maybe\n" + // 8
		"CREATE_ABP,70B3D57ED0000108,260B0108\n" + // 9
		",OTAA,,,,," + csvKey1 + ",\n" + // 10
		"70B3D57ED0000111,,,,,,,\n" // 11
	_, probs := ParseDevicesCSV([]byte(data))
	want := map[int]string{
		3: "devEUI: devEUI 70B3D57ED0000101 is also on line 2", 4: "appKey: appKey has a non-hex digit 'G' at position 32",
		5: "appSKey is missing", 6: "activation must be ABP or OTAA", 7: "devEUI must be 16 hex digits",
		8: "relaxFCnt must be true or false", 9: "CREATE_ABP is not read here", 10: "devEUI is required",
		11: "neither an ABP session",
	}
	got := map[int]string{}
	for _, p := range probs {
		got[p.Line] = p.String()
		for _, k := range []string{csvKey1, csvKey2, bad} {
			if strings.Contains(strings.ToUpper(p.String()), k) {
				t.Errorf("key in message %q", p)
			}
		}
	}
	for line, w := range want {
		if !strings.Contains(got[line], w) {
			t.Errorf("line %d: got %q, want %q", line, got[line], w)
		}
	}
	if len(probs) != len(want) {
		t.Errorf("%d problems: %v", len(probs), probs)
	}
	if _, probs := ParseDevicesCSV([]byte("deveui,colour\n")); len(probs) != 1 || probs[0].Line != 1 || !strings.Contains(probs[0].Msg, `unknown column "colour"`) {
		t.Errorf("unknown column: %v", probs)
	}
	if _, probs := ParseDevicesCSV([]byte("devEUI,appKey\n\"70B3D57ED0000101,x\n")); len(probs) != 1 || probs[0].Line != 2 {
		t.Errorf("quoting: %v", probs)
	}
}

// Load reads the devices file relative to the configuration and refuses a
// device listed in both, naming the file and the line.
func TestLoadDevicesFile(t *testing.T) {
	dir := t.TempDir()
	yaml := "devices:\n  - devEUI: 70B3D57ED0000101\n    joinEUI: 70B3D57ED0000000\n    appKey: " + csvKey1 + "\ndevicesFile: devs.csv\n"
	cfgPath := filepath.Join(dir, "edgeflow.yaml")
	if err := os.WriteFile(cfgPath, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	csvPath := filepath.Join(dir, "devs.csv")
	if err := os.WriteFile(csvPath, []byte("devEUI,appKey\n70B3D57ED0000102,"+csvKey2+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	c, _, err := Load(cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Devices) != 2 || c.Devices[1].DevEUI.String() != "70b3d57ed0000102" || c.DevicesFile != csvPath {
		t.Fatalf("devices %+v, file %s", c.Devices, c.DevicesFile)
	}
	if err := c.Validate(); err != nil {
		t.Fatalf("a loaded config does not validate: %v", err)
	}
	if err := os.WriteFile(csvPath, []byte("devEUI,appKey\n70B3D57ED0000102,"+csvKey2+"\n70B3D57ED0000101,"+csvKey2+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, _, err = Load(cfgPath)
	var e *Error
	if !errors.As(err, &e) || !strings.Contains(err.Error(), csvPath+":3: devEUI: devEUI 70B3D57ED0000101 is also in the configuration file (devices[0])") {
		t.Fatalf("got %v", err)
	}
	if err := os.Remove(csvPath); err != nil {
		t.Fatal(err)
	}
	if _, _, err := Load(cfgPath); err == nil || !strings.Contains(err.Error(), "devicesFile") {
		t.Fatalf("missing file: %v", err)
	}
}

// FuzzParseDevicesCSV: whatever the file holds, the parser returns devices
// or problems with a message, never panics, and never lets a duplicate
// DevEUI through.
func FuzzParseDevicesCSV(f *testing.F) {
	for _, p := range []string{"testdata/valid/devices.csv", "testdata/valid/thingpark-devices.csv"} {
		if b, err := os.ReadFile(p); err == nil {
			f.Add(b)
		}
	}
	f.Add([]byte("devEUI,appKey\n\"70B3D57ED0000101,x\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		devs, probs := ParseDevicesCSV(data)
		for _, p := range probs {
			if p.Msg == "" {
				t.Fatalf("problem without a message: %+v", p)
			}
		}
		if len(probs) == 0 {
			seen := map[string]bool{}
			for _, d := range devs {
				if seen[d.DevEUI.String()] {
					t.Fatalf("duplicate devEUI %s accepted", d.DevEUI)
				}
				seen[d.DevEUI.String()] = true
			}
		}
	})
}

// nwkKey (LoRaWAN 1.1) is read from the YAML and the devices file, and
// only goes with an appKey.
func TestNwkKey(t *testing.T) {
	c, _ := mustParse(t, "devices:\n  - devEUI: 70B3D57ED0000001\n    joinEUI: 70B3D57ED0000000\n    appKey: "+csvKey1+"\n    nwkKey: "+csvKey2+"\n")
	if c.Devices[0].NwkKey.String() != strings.ToLower(csvKey2) {
		t.Fatalf("nwkKey %s", c.Devices[0].NwkKey)
	}
	_, _, err := Parse([]byte("devices:\n  - devEUI: 70B3D57ED0000001\n    devAddr: 260B0001\n    nwkSKey: "+csvKey1+"\n    appSKey: "+csvKey1+"\n    nwkKey: "+csvKey2+"\n"), "x.yaml")
	if err == nil || !strings.Contains(err.Error(), "x.yaml:6: devices[0].nwkKey: nwkKey (LoRaWAN 1.1) goes with appKey") || strings.Contains(strings.ToUpper(err.Error()), csvKey2) {
		t.Fatalf("got %v", err)
	}
	devs, probs := ParseDevicesCSV([]byte("devEUI,appKey,nwkKey\n70B3D57ED0000001," + csvKey1 + "," + csvKey2 + "\n70B3D57ED0000002,," + csvKey2 + "\n"))
	if len(devs) != 1 || devs[0].NwkKey.String() != strings.ToLower(csvKey2) || len(probs) != 1 || probs[0].Line != 3 {
		t.Fatalf("%v %v", devs, probs)
	}
}
