package web

import (
	"bytes"
	"crypto/md5"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"path"
	"sort"
	"strings"
)

// The .pck format that Godot 4.4 and later read (core/io/file_access_pack.cpp),
// little endian:
//
//	"GDPC", u32 format (3), u32 major, minor, patch of the engine that made it,
//	u32 flags, u64 file_base, u64 dir_offset, 16 reserved u32;
//	the files' data, each 16-byte aligned;
//	at dir_offset: u32 count, then per file u32 path length (the path without
//	"res://", NUL-padded to a multiple of 4), the path, u64 offset (from
//	file_base), u64 size, 16-byte MD5 of the data, u32 flags.
//
// The engine refuses a pack whose version is newer than its own, so packs
// say 4.6.0, the version of the engine this package serves.
const (
	packMagic       = "GDPC"
	packFormat      = 3
	packRelFileBase = 1 << 1 // file_base is relative to the start of the pack
	packAlign       = 16
	packHeaderSize  = 4 + 4 + 12 + 4 + 8 + 8 + 16*4
)

// The engine version packs are made for (the version of the served engine).
const (
	EngineMajor = 4
	EngineMinor = 6
)

// Pack is the content of a Godot resource pack: files by their res:// path.
// The zero value is an empty pack ready to use.
type Pack struct {
	files map[string][]byte
}

// Add puts data at p, a path relative to res:// ("addons/x/a.gd" or
// "res://addons/x/a.gd"), replacing what was there.
func (p *Pack) Add(name string, data []byte) error {
	clean, err := packPath(name)
	if err != nil {
		return err
	}
	if p.files == nil {
		p.files = make(map[string][]byte)
	}
	p.files[clean] = bytes.Clone(data)
	return nil
}

// AddFS copies every regular file under root in fsys into the pack under
// prefix (a res:// relative folder, "" for the top), following symlinks the
// way fsys does. skip, when not nil, leaves out a file or folder for which it
// returns true (given the path relative to root).
func (p *Pack) AddFS(fsys fs.FS, root, prefix string, skip func(rel string, d fs.DirEntry) bool) error {
	return fs.WalkDir(fsys, root, func(name string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel := strings.TrimPrefix(strings.TrimPrefix(name, root), "/")
		if rel != "" && skip != nil && skip(rel, d) {
			if d.IsDir() {
				return fs.SkipDir
			}
			return nil
		}
		if d.IsDir() {
			return nil
		}
		if d.Type()&fs.ModeSymlink != 0 {
			// fs.WalkDir does not follow links: walk the target ourselves.
			st, err := fs.Stat(fsys, name)
			if err != nil {
				return err
			}
			if st.IsDir() {
				return p.AddFS(fsys, name, path.Join(prefix, rel), nil)
			}
		}
		data, err := fs.ReadFile(fsys, name)
		if err != nil {
			return err
		}
		return p.Add(path.Join(prefix, rel), data)
	})
}

// Has reports whether the pack has a file at name.
func (p *Pack) Has(name string) bool {
	clean, err := packPath(name)
	if err != nil {
		return false
	}
	_, ok := p.files[clean]
	return ok
}

// File returns the data at name, or nil.
func (p *Pack) File(name string) []byte {
	clean, err := packPath(name)
	if err != nil {
		return nil
	}
	return p.files[clean]
}

// Names lists the pack's paths (relative to res://), sorted.
func (p *Pack) Names() []string {
	names := make([]string, 0, len(p.files))
	for n := range p.files {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// packPath is name relative to res://, cleaned; an error for paths that
// leave res:// or are empty.
func packPath(name string) (string, error) {
	n := strings.TrimPrefix(name, "res://")
	n = path.Clean("/" + n)[1:]
	if n == "" || n == "." || strings.Contains(name, "\x00") {
		return "", fmt.Errorf("pack: bad path %q", name)
	}
	return n, nil
}

// Bytes encodes the pack in format 3 for Godot EngineMajor.EngineMinor.
func (p *Pack) Bytes() []byte {
	names := p.Names()
	var b bytes.Buffer
	b.WriteString(packMagic)
	le := binary.LittleEndian
	put32 := func(v uint32) { b.Write(le.AppendUint32(nil, v)) }
	put64 := func(v uint64) { b.Write(le.AppendUint64(nil, v)) }
	put32(packFormat)
	put32(EngineMajor)
	put32(EngineMinor)
	put32(0)
	put32(packRelFileBase)
	fileBase := uint64(align(packHeaderSize))
	dirOffsetAt := b.Len() + 8
	put64(fileBase)
	put64(0) // dir_offset, set below
	for i := 0; i < 16; i++ {
		put32(0)
	}
	pad := func() {
		for b.Len()%packAlign != 0 {
			b.WriteByte(0)
		}
	}
	pad()
	offsets := make([]uint64, len(names))
	for i, n := range names {
		offsets[i] = uint64(b.Len()) - fileBase
		b.Write(p.files[n])
		pad()
	}
	dirOffset := uint64(b.Len())
	put32(uint32(len(names)))
	for i, n := range names {
		padded := (len(n) + 3) &^ 3 // as Godot writes it: no NUL when aligned
		put32(uint32(padded))
		b.WriteString(n)
		b.Write(make([]byte, padded-len(n)))
		put64(offsets[i])
		put64(uint64(len(p.files[n])))
		sum := md5.Sum(p.files[n])
		b.Write(sum[:])
		put32(0)
	}
	out := b.Bytes()
	le.PutUint64(out[dirOffsetAt:], dirOffset)
	return out
}

func align(n int) int { return (n + packAlign - 1) &^ (packAlign - 1) }

// ReadPack decodes a format 3 pack (as Bytes writes it, or as Godot's own
// export writes it) and checks every file's MD5. Declared sizes and counts
// are checked against the bytes present before anything is allocated.
func ReadPack(data []byte) (*Pack, error) {
	if len(data) < packHeaderSize || string(data[:4]) != packMagic {
		return nil, errors.New("pack: not a Godot pack")
	}
	le := binary.LittleEndian
	if v := le.Uint32(data[4:]); v != packFormat {
		return nil, fmt.Errorf("pack: format %d, want %d", v, packFormat)
	}
	flags := le.Uint32(data[20:])
	if flags&^packRelFileBase != 0 {
		return nil, fmt.Errorf("pack: unsupported flags %#x (encrypted or sparse)", flags)
	}
	fileBase := le.Uint64(data[24:])
	dirOffset := le.Uint64(data[32:])
	if dirOffset > uint64(len(data))-4 || fileBase > uint64(len(data)) {
		return nil, errors.New("pack: directory or file base past the end")
	}
	r := bytes.NewReader(data[dirOffset:])
	var count uint32
	if err := binary.Read(r, le, &count); err != nil {
		return nil, err
	}
	// Each entry takes at least 4 + 4 + 8 + 8 + 16 + 4 bytes.
	if uint64(count)*44 > uint64(r.Len()) {
		return nil, fmt.Errorf("pack: %d files do not fit in the directory", count)
	}
	p := &Pack{files: make(map[string][]byte, count)}
	for i := uint32(0); i < count; i++ {
		var n uint32
		if err := binary.Read(r, le, &n); err != nil {
			return nil, err
		}
		if uint64(n) > uint64(r.Len()) {
			return nil, errors.New("pack: path length past the end")
		}
		name := make([]byte, n)
		if _, err := io.ReadFull(r, name); err != nil {
			return nil, err
		}
		var ent struct {
			Offset, Size uint64
			MD5          [16]byte
			Flags        uint32
		}
		if err := binary.Read(r, le, &ent); err != nil {
			return nil, err
		}
		start := fileBase + ent.Offset
		if ent.Flags != 0 {
			return nil, fmt.Errorf("pack: %s: unsupported file flags %#x", name, ent.Flags)
		}
		if start < fileBase || start > uint64(len(data)) || ent.Size > uint64(len(data))-start {
			return nil, fmt.Errorf("pack: %s: data past the end", name)
		}
		body := data[start : start+ent.Size]
		if md5.Sum(body) != ent.MD5 {
			return nil, fmt.Errorf("pack: %s: MD5 mismatch", name)
		}
		if err := p.Add(string(bytes.TrimRight(name, "\x00")), body); err != nil {
			return nil, err
		}
	}
	return p, nil
}
