package gwmp

import (
	"bytes"
	"io"
	"testing"

	"github.com/go-json-experiment/json/jsontext"
)

// walkTokens lists the tokens of the valid JSON value in as the walker
// reads them: delimiters as themselves, other values raw. At every object
// or array it also checks that value skips it whole, to the byte where the
// token walk closes it.
func walkTokens(t *testing.T, in []byte) []string {
	t.Helper()
	w := walk{b: in}
	var toks []string
	var opens []int // where each open container starts, and its skip's end
	var ends []int
	for {
		switch k := w.peek(); k {
		case 0:
			if len(opens) != 0 {
				t.Fatalf("%q: the walk ended inside a container", in)
			}
			return toks
		case '{', '[':
			skip := w
			v, kind := skip.value()
			if kind != k || len(v) == 0 || v[0] != k {
				t.Fatalf("%q: value at %d: %q, kind %q", in, w.i, v, kind)
			}
			opens, ends = append(opens, w.i), append(ends, skip.i)
			if !w.delim(k) {
				t.Fatalf("%q: delim %q at %d", in, k, w.i)
			}
			toks = append(toks, string(k))
		case '}', ']':
			if !w.delim(k) {
				t.Fatalf("%q: delim %q at %d", in, k, w.i)
			}
			toks = append(toks, string(k))
			n := len(opens) - 1
			if w.i != ends[n] {
				t.Fatalf("%q: value skipped the container at %d to %d, it closes at %d", in, opens[n], ends[n], w.i)
			}
			opens, ends = opens[:n], ends[:n]
		default:
			at := w.i
			v, kind := w.value()
			if kind != k {
				t.Fatalf("%q: value at %d: kind %q, peek %q", in, at, kind, k)
			}
			// str and num read what value reads.
			other := walk{b: in, i: at}
			switch k {
			case '"':
				if s := other.str(); !bytes.Equal(s, v) {
					t.Fatalf("%q: str at %d: %q, value %q", in, at, s, v)
				}
			case '0':
				if s := other.num(); !bytes.Equal(s, v) {
					t.Fatalf("%q: num at %d: %q, value %q", in, at, s, v)
				}
			}
			toks = append(toks, string(v))
		}
	}
}

// textTokens lists the tokens of in as jsontext reads them, in the form
// walkTokens gives; ok is false unless in is one valid value, as decodeFast
// has it (a Decoder alone also reads a stream, such as "00" as two zeros).
func textTokens(in []byte) (toks []string, ok bool) {
	if !jsontext.Value(in).IsValid(jsontext.AllowDuplicateNames(true)) {
		return nil, false
	}
	d := jsontext.NewDecoder(bytes.NewReader(in), jsontext.AllowDuplicateNames(true))
	for {
		switch d.PeekKind() {
		case '{', '}', '[', ']':
			tok, err := d.ReadToken()
			if err != nil {
				return nil, false
			}
			toks = append(toks, tok.Kind().String())
		default:
			v, err := d.ReadValue()
			if err == io.EOF {
				return toks, true
			}
			if err != nil {
				return nil, false
			}
			toks = append(toks, string(v))
		}
	}
}

// checkWalk requires the walker to read in as jsontext does, if jsontext
// takes it; else that in need not be valid.
func checkWalk(t *testing.T, in []byte, mustBeValid bool) {
	t.Helper()
	want, ok := textTokens(in)
	if !ok {
		if mustBeValid {
			t.Fatalf("%q: jsontext refuses it", in)
		}
		return
	}
	got := walkTokens(t, in)
	if len(got) != len(want) {
		t.Fatalf("%q: walker %q, jsontext %q", in, got, want)
	}
	for i := range got {
		if got[i] != want[i] {
			t.Fatalf("%q: token %d: walker %q, jsontext %q", in, i, got[i], want[i])
		}
	}
}

// The walker's edges: what a scan that ignored escapes, took a bracket in
// a string for one, or stopped a number early would misread.
func TestWalkMatchesJSONText(t *testing.T) {
	for _, in := range []string{
		" \t\r\n{ \"a\" :\t[ 1 ,\n-2.5e+3 , true,false , null ] ,\r\n\"b\" : { } , \"c\":[ ] }\n ",
		`{"a\"b":"c\"d","e":"f\\","g":"\\\"","h":"\\\\","i":"\u0022\\u0022"}`,
		`["]","}","[","{","\"]","\\","\\]", {"]}":"[{"}]`,
		`{"x":{"y":[[],[{}],{"z":[1,[2,[3]]]}],"w":"}"},"v":[{"a":"]"},[1e5]]}`,
		`[0,-0,1E5,1e-5,-0.5e-10,1e+2,1.5E+300,123456789012345678901234567890,-1.25]`,
		`"\ud83d\ude00 é"`,
		`{"rxpk":[{"tmst":1,"data":"AQ==","rsig":[{"ant":0}],"meta":{"a":"b"}}]}`,
		"{\"data\":\"\\\\\\\"\",\"tmst\":1}",
		`{}`, `[]`, `1`, `-7`, `""`, `true`, `null`,
	} {
		checkWalk(t, []byte(in), true)
	}
}

// A value that the fast path skips hides nothing from it: brackets, quotes
// and escapes inside the skipped value do not move the members after it.
func TestWalkSkipsUnknownValues(t *testing.T) {
	in := []byte(`{"x":"]}\"\\","y" : [ {"z":"}{[\""} , [1e5,-2E-3,true,false,null] ] ,"tmst":7}`)
	w := walk{b: in}
	if !w.delim('{') {
		t.Fatal("no object")
	}
	var names []string
	for w.peek() == '"' {
		name := w.str()
		names = append(names, string(name))
		v, _ := w.value()
		names = append(names, string(v))
	}
	if !w.delim('}') || w.peek() != 0 {
		t.Fatalf("the walk ends at %d of %d", w.i, len(in))
	}
	want := []string{`"x"`, `"]}\"\\"`, `"y"`, `[ {"z":"}{[\""} , [1e5,-2E-3,true,false,null] ]`, `"tmst"`, `7`}
	if len(names) != len(want) {
		t.Fatalf("read %q, want %q", names, want)
	}
	for i := range want {
		if names[i] != want[i] {
			t.Fatalf("read %q, want %q", names, want)
		}
	}
}

// FuzzWalkMatchesJSONText: on anything jsontext accepts, the walker reads
// the tokens jsontext reads.
func FuzzWalkMatchesJSONText(f *testing.F) {
	for _, s := range []string{
		`{"a":[1,"]",{"b":"\"}"}],"c":-1.5e-3}`,
		` [ "\\" , "\\\"" , { } ] `,
		p1JSON, p3JSON, twoRXPKJSON,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		checkWalk(t, in, false)
	})
}
