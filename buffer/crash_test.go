package buffer

func crashChildAppend(path string)             {}
func crashChildCompact(path, failpoint string) {}
