package config

import (
	"reflect"
	"strings"
	"testing"
)

// TestSettingsTable holds the table to what its users take for granted, so
// that a mistake in a new entry fails here rather than as a panic or a
// silent gap in config init.
func TestSettingsTable(t *testing.T) {
	tab := table(settings())
	scratch := scratchConfig(tab)
	seen := map[string]bool{}
	for _, s := range tab {
		if seen[s.Path] {
			t.Errorf("%s is in the table twice", s.Path)
		}
		seen[s.Path] = true
		if p := parent(s.Path); p != "" {
			if ps, ok := tab.find(p); !ok || !ps.section() {
				t.Errorf("%s: %s is not a section of the table", s.Path, p)
			}
		}
		if s.section() || s.Ignored != "" {
			continue
		}
		if s.Reason == "" && !s.Along {
			t.Errorf("%s has no reason: config init and the docs would show it unexplained", s.Path)
		}
		if s.Field == nil {
			t.Errorf("%s has no field", s.Path)
			continue
		}
		ft := reflect.TypeOf(s.Field(scratch)).Elem()
		if s.Default != nil && reflect.TypeOf(s.Default) != ft {
			t.Errorf("%s: default %T, field %s", s.Path, s.Default, ft)
		}
		if s.decode == nil && !readable(s.Field(scratch)) {
			t.Errorf("%s: the reader does not read a %s", s.Path, ft)
		}
		if s.init == nil && s.Default == nil && s.DefaultFrom == nil && s.Example == "" && formatValue(s.defaultOf(scratch, Dirs{})) == "" {
			t.Errorf("%s: config init would show it without a value", s.Path)
		}
	}
}

func readable(p any) bool {
	switch p.(type) {
	case *string, *int, *Duration, *ByteSize, **float64, *[]string:
		return true
	}
	return false
}

// TestEveryFieldIsASetting: a field added to a section's struct without
// its entry in the table would never be read from the file.
func TestEveryFieldIsASetting(t *testing.T) {
	tab := table(settings())
	var walk func(typ reflect.Type, path string)
	walk = func(typ reflect.Type, path string) {
		for i := range typ.NumField() {
			f := typ.Field(i)
			key, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
			if key == "" || key == "-" {
				continue
			}
			p := join(path, key)
			s, ok := tab.find(p)
			if !ok {
				t.Errorf("%s (%s.%s) is not in the settings table", p, typ.Name(), f.Name)
				continue
			}
			ft := f.Type
			if ft.Kind() == reflect.Pointer && ft.Elem().Kind() == reflect.Struct {
				ft = ft.Elem()
			}
			if s.section() && ft.Kind() == reflect.Struct {
				walk(ft, p)
			}
		}
	}
	walk(reflect.TypeOf(Config{}), "")

	keys := deviceKeys()
	dt := reflect.TypeOf(Device{})
	for i := range dt.NumField() {
		key, _, _ := strings.Cut(dt.Field(i).Tag.Get("yaml"), ",")
		if key != "" && key != "-" && !contains(keys.known, key) {
			t.Errorf("devices[].%s (Device.%s) is not in deviceKeyTable", key, dt.Field(i).Name)
		}
	}
}
