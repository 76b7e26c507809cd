package buffer

import (
	"os"
	"testing"
)

// The test binary doubles as the child processes of the subprocess tests:
// BUFFER_TEST_CHILD selects the role.
func TestMain(m *testing.M) {
	switch os.Getenv("BUFFER_TEST_CHILD") {
	case "check":
		// What "edgeflow buffer check FILE" does.
		os.Exit(ExitCode(CheckFile(os.Args[len(os.Args)-1])))
	case "append":
		crashChildAppend(os.Getenv("BUFFER_TEST_PATH"))
		os.Exit(0)
	case "batch":
		crashChildBatch(os.Getenv("BUFFER_TEST_PATH"))
		os.Exit(0)
	case "commit":
		crashChildCommit(os.Getenv("BUFFER_TEST_PATH"), os.Getenv("BUFFER_TEST_FAILPOINT"))
		os.Exit(0)
	case "compact":
		crashChildCompact(os.Getenv("BUFFER_TEST_PATH"), os.Getenv("BUFFER_TEST_FAILPOINT"))
		os.Exit(0)
	}
	os.Exit(m.Run())
}
