package config

import (
	"reflect"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// table is the settings table with the look-ups its users need.
type table []setting

func (t table) find(path string) (*setting, bool) {
	for i := range t {
		if t[i].Path == path {
			return &t[i], true
		}
	}
	return nil, false
}

// children are the settings directly under path ("" for the top level).
func (t table) children(path string) []setting {
	var out []setting
	for _, s := range t {
		if parent(s.Path) == path && s.Path != path {
			out = append(out, s)
		}
	}
	return out
}

// keys are the keys the mapping at path knows, for the reader.
func (t table) keys(path string) section {
	var sec section
	for i := range t {
		s := &t[i]
		if parent(s.Path) != path || s.Path == path {
			continue
		}
		if s.Ignored != "" {
			if sec.ignored == nil {
				sec.ignored = map[string]string{}
			}
			sec.ignored[s.key()] = s.Ignored
			continue
		}
		sec.known = append(sec.known, s.key())
	}
	return sec
}

// optional is the optional section path is in, if any.
func (t table) optional(path string) (*setting, bool) {
	for p := parent(path); p != ""; p = parent(p) {
		if s, ok := t.find(p); ok && s.Optional {
			return s, true
		}
	}
	return nil, false
}

// defaultOf is the value s gives a file that leaves it out: its Default,
// else the zero value of its field. scratch has every optional section made.
func (s setting) defaultOf(scratch *Config, dirs Dirs) any {
	switch {
	case s.DefaultFrom != nil:
		return s.DefaultFrom(dirs)
	case s.Default != nil:
		return s.Default
	}
	return reflect.ValueOf(s.Field(scratch)).Elem().Interface()
}

// setDefaults gives every setting under path (all of them for "") its
// default, but those of an optional section the file has not given.
func (t table) setDefaults(c *Config, dirs Dirs, under string) {
	for i := range t {
		s := &t[i]
		if s.Field == nil || s.Default == nil && s.DefaultFrom == nil || !strings.HasPrefix(s.Path, under) {
			continue
		}
		if o, ok := t.optional(s.Path); ok && !o.On(c) {
			continue
		}
		reflect.ValueOf(s.Field(c)).Elem().Set(reflect.ValueOf(s.defaultOf(nil, dirs)))
	}
}

// walk decodes the mapping n at path into c, setting by setting.
func (rd *reader) walk(n *yaml.Node, path string, t table, c *Config) bool {
	return rd.fields(n, path, t.keys(path), func(key string, v *yaml.Node, p string) {
		s, _ := t.find(join(path, key)) // fields passes known keys only
		switch {
		case s.decode != nil:
			s.decode(rd, v, p, c)
		case s.section():
			if s.Optional && v.Kind == yaml.MappingNode {
				s.Enter(c)
				t.setDefaults(c, Dirs{}, p+".")
			}
			rd.walk(v, p, t, c) // which reports a value that is not a mapping
		default:
			rd.value(v, p, s, c)
		}
	})
}

// value decodes one setting's value, as its field's type says.
func (rd *reader) value(v *yaml.Node, p string, s *setting, c *Config) {
	switch dst := s.Field(c).(type) {
	case *string:
		rd.set(v, p, dst)
	case *int:
		rd.integer(v, p, s.Unit, dst)
	case *Duration:
		rd.duration(v, p, dst)
	case *ByteSize:
		if str, ok := rd.str(v, p); ok {
			size, err := ParseByteSize(str)
			if err != nil {
				rd.problem(v, p, "%s %v", last(p), err)
				return
			}
			*dst = size
		}
	case **float64:
		*dst, _ = rd.float(v, p)
	case *[]string:
		*dst, _ = rd.strList(v, p)
	default:
		panic("config: setting " + s.Path + " has a field of a type the reader does not read")
	}
}

// check runs every setting's check, in the table's order.
func (c *Config) check(ch *checker) { c.checkWith(ch, table(settings())) }

func (c *Config) checkWith(ch *checker, t table) {
	for i := range t {
		s := &t[i]
		if s.Check.fn == nil {
			continue
		}
		if o, ok := t.optional(s.Path); ok && !o.On(c) {
			continue
		}
		var v any
		if s.Field != nil {
			v = reflect.ValueOf(s.Field(c)).Elem().Interface()
		}
		s.Check.fn(ch, s.Path, v, c)
	}
}

// scratchConfig has every optional section made, so that every setting's
// Field can be taken.
func scratchConfig(t table) *Config {
	c := &Config{}
	for _, s := range t {
		if s.Enter != nil {
			s.Enter(c)
		}
	}
	return c
}

// formatValue writes a default the way the file spells it.
func formatValue(v any) string {
	switch x := v.(type) {
	case string:
		return strconv.Quote(x)
	case int:
		return strconv.Itoa(x)
	case Duration:
		return strconv.Quote(x.String())
	case ByteSize:
		return strconv.Quote(x.String())
	case []string:
		q := make([]string, len(x))
		for i, s := range x {
			q[i] = strconv.Quote(s)
		}
		return "[" + strings.Join(q, ", ") + "]"
	case *float64:
		if x == nil {
			return ""
		}
		return strconv.FormatFloat(*x, 'g', -1, 64)
	}
	return ""
}
