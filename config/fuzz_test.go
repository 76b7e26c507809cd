package config

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// FuzzParse: whatever is in the file, Parse returns a config or an *Error,
// never panics, and every problem has a message.
func FuzzParse(f *testing.F) {
	f.Add([]byte(InitText()))
	for _, dir := range []string{"testdata/valid", "testdata/broken"} {
		files, _ := filepath.Glob(filepath.Join(dir, "*.yaml"))
		for _, p := range files {
			if b, err := os.ReadFile(p); err == nil {
				f.Add(b)
			}
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) > 16<<10 {
			return // the YAML parser's cost, not ours
		}
		c, _, err := Parse(data, "fuzz.yaml")
		if err != nil {
			var e *Error
			if !errors.As(err, &e) || len(e.Problems) == 0 {
				t.Fatalf("error is not a list of problems: %v", err)
			}
			for _, p := range e.Problems {
				if p.Msg == "" {
					t.Fatalf("problem without a message: %+v", p)
				}
			}
			return
		}
		if c == nil {
			t.Fatal("no config and no error")
		}
		// What Parse accepts, Validate accepts too.
		if err := c.Validate(); err != nil {
			t.Fatalf("Parse accepted what Validate refuses:\n%v\n%s", err, strings.TrimSpace(string(data)))
		}
	})
}

// FuzzReplaceConnections: for any file Parse accepts, the splice yields a
// file that reads back with the new connections and everything else as it
// was; otherwise it fails cleanly (SaveConnections then leaves the file).
func FuzzReplaceConnections(f *testing.F) {
	f.Add([]byte(InitText()))
	for _, dir := range []string{"testdata/valid"} {
		files, _ := filepath.Glob(filepath.Join(dir, "*.yaml"))
		for _, p := range files {
			if b, err := os.ReadFile(p); err == nil {
				f.Add(b)
			}
		}
	}
	f.Add([]byte("connections: [{\"name\":\"a\",\"brand\":\"CAYENNE\"}] # c\r\nlog: {level: info}\r\n"))
	conns := newConns()
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) > 16<<10 {
			return
		}
		before, _, err := Parse(data, "")
		if err != nil {
			return
		}
		out, err := replaceConnections(data, conns)
		if err != nil {
			return
		}
		if err := checkRewrite(out, conns); err != nil {
			t.Fatalf("%v\nin:\n%s\nout:\n%s", err, data, out)
		}
		after, _, err := Parse(out, "")
		if err != nil {
			t.Fatalf("the rewrite broke the file: %v\nin:\n%s\nout:\n%s", err, data, out)
		}
		after.Connections = before.Connections
		if !reflect.DeepEqual(before, after) {
			t.Fatalf("the rewrite changed other sections\nin:\n%s\nout:\n%s", data, out)
		}
	})
}
