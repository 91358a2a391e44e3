package main

import (
	"bytes"
	"errors"
	"io"
	"math/rand"
	"os"
	"syscall"
)

const (
	seekData = 3 // SEEK_DATA (Linux)
	seekHole = 4 // SEEK_HOLE (Linux)
)

// dataExtents returns the [start,end) byte ranges of f that hold data (not holes),
// using SEEK_DATA/SEEK_HOLE; if the file system lacks them, the whole file.
func dataExtents(f *os.File, size int64) ([][2]int64, error) {
	var out [][2]int64
	var off int64
	for off < size {
		start, err := f.Seek(off, seekData)
		if err != nil {
			if errors.Is(err, syscall.ENXIO) { // no more data
				break
			}
			if errors.Is(err, syscall.EINVAL) || errors.Is(err, syscall.EOPNOTSUPP) {
				return [][2]int64{{0, size}}, nil
			}
			return nil, err
		}
		end, err := f.Seek(start, seekHole)
		if err != nil {
			return nil, err
		}
		if end > size {
			end = size
		}
		out = append(out, [2]int64{start, end})
		off = end
	}
	return out, nil
}

// sparseCopy copies src to dst keeping holes, and returns the size.
func sparseCopy(src, dst string) (int64, error) {
	in, err := os.Open(src)
	if err != nil {
		return 0, err
	}
	defer in.Close()
	st, err := in.Stat()
	if err != nil {
		return 0, err
	}
	size := st.Size()
	out, err := os.OpenFile(dst, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o644)
	if err != nil {
		return 0, err
	}
	defer out.Close()
	extents, err := dataExtents(in, size)
	if err != nil {
		return 0, err
	}
	buf := make([]byte, 1<<20)
	zero := make([]byte, len(buf))
	for _, e := range extents {
		for off := e[0]; off < e[1]; {
			n := int64(len(buf))
			if e[1]-off < n {
				n = e[1] - off
			}
			if _, err := in.ReadAt(buf[:n], off); err != nil && err != io.EOF {
				return 0, err
			}
			if !bytes.Equal(buf[:n], zero[:n]) {
				if _, err := out.WriteAt(buf[:n], off); err != nil {
					return 0, err
				}
			}
			off += n
		}
	}
	return size, out.Truncate(size)
}

// blankDisk creates a sparse flat file of the given size with `blocks` 64 KiB
// blocks of pseudo-random content at pseudo-random block offsets (seeded by name).
func blankDisk(path string, size int64, blocks int, seed string) error {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o644)
	if err != nil {
		return err
	}
	defer f.Close()
	if err := f.Truncate(size); err != nil {
		return err
	}
	var s int64
	for _, c := range seed {
		s = s*131 + int64(c)
	}
	r := rand.New(rand.NewSource(s))
	buf := make([]byte, cbtBlock)
	nblocks := size / cbtBlock
	for i := 0; i < blocks && nblocks > 0; i++ {
		r.Read(buf)
		if _, err := f.WriteAt(buf, r.Int63n(nblocks)*cbtBlock); err != nil {
			return err
		}
	}
	return nil
}
