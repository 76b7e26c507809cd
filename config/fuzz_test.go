package config

import (
	"errors"
	"os"
	"path/filepath"
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
