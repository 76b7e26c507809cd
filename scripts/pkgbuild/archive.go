package main

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"fmt"
	"io"
	"path"
	"sort"
	"strings"
	"time"
)

// entry is one member of a package's tar: a directory (Data nil, Dir set)
// or a regular file, always owned by root:root.
type entry struct {
	Name string // without a leading "./", e.g. "usr/bin/edgeflow"
	Mode int64
	Dir  bool
	Data []byte
}

// tarGz writes entries as a gzip-compressed GNU tar, the way opkg-build and
// dpkg-deb do: members named "./…", root:root, every time stamp mtime.
// With tree set, "./" and every parent directory are added and members
// sorted; otherwise entries are written as given, in order (the outer tar
// of an .ipk).
func tarGz(entries []entry, mtime time.Time, tree bool) ([]byte, error) {
	all := entries
	if tree {
		all = withParents(entries)
	}
	var buf bytes.Buffer
	gz, err := gzip.NewWriterLevel(&buf, gzip.BestCompression)
	if err != nil {
		return nil, err
	}
	gz.ModTime = mtime
	tw := tar.NewWriter(gz)
	for _, e := range all {
		h := &tar.Header{
			Name:    "./" + e.Name,
			Mode:    e.Mode,
			Uid:     0,
			Gid:     0,
			Uname:   "root",
			Gname:   "root",
			ModTime: mtime,
			Format:  tar.FormatGNU,
		}
		if e.Dir {
			h.Typeflag = tar.TypeDir
			if e.Name != "" {
				h.Name += "/"
			}
		} else {
			h.Typeflag = tar.TypeReg
			h.Size = int64(len(e.Data))
		}
		if err := tw.WriteHeader(h); err != nil {
			return nil, fmt.Errorf("%s: %w", h.Name, err)
		}
		if !e.Dir {
			if _, err := tw.Write(e.Data); err != nil {
				return nil, err
			}
		}
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	if err := gz.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// withParents returns entries sorted by name, with "." and every missing
// parent directory (mode 0755) added.
func withParents(entries []entry) []entry {
	have := map[string]bool{}
	for _, e := range entries {
		have[e.Name] = true
	}
	out := append([]entry(nil), entries...)
	if !have[""] {
		out = append(out, entry{Name: "", Mode: 0o755, Dir: true})
		have[""] = true
	}
	for _, e := range entries {
		for d := path.Dir(e.Name); d != "." && d != "/" && !have[d]; d = path.Dir(d) {
			out = append(out, entry{Name: d, Mode: 0o755, Dir: true})
			have[d] = true
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// arMember is one member of an ar archive.
type arMember struct {
	Name string
	Data []byte
}

// writeAr writes a System V / GNU ar archive as dpkg-deb does: the
// "!<arch>\n" magic, then for each member a 60-byte header (name, mtime,
// uid 0, gid 0, mode 100644, size, "`\n") and its data padded to an even
// length with "\n".
func writeAr(w io.Writer, members []arMember, mtime time.Time) error {
	if _, err := io.WriteString(w, "!<arch>\n"); err != nil {
		return err
	}
	for _, m := range members {
		if len(m.Name) > 16 || strings.ContainsAny(m.Name, " /") {
			return fmt.Errorf("ar member name %q: at most 16 characters, no space or slash", m.Name)
		}
		hdr := fmt.Sprintf("%-16s%-12d%-6d%-6d%-8s%-10d`\n", m.Name, mtime.Unix(), 0, 0, "100644", len(m.Data))
		if len(hdr) != 60 {
			return fmt.Errorf("ar header for %q is %d bytes", m.Name, len(hdr))
		}
		if _, err := io.WriteString(w, hdr); err != nil {
			return err
		}
		if _, err := w.Write(m.Data); err != nil {
			return err
		}
		if len(m.Data)%2 == 1 {
			if _, err := io.WriteString(w, "\n"); err != nil {
				return err
			}
		}
	}
	return nil
}
