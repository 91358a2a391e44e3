package main

import (
	"os"
	"syscall"
	"time"
)

// Write tracking for the lab's CBT, the stand-in for ESXi's change bitmap.
//
// An epoch needs the fingerprint of every block of the disk. Hashing the whole
// flat file at each snapshot costs ~0.1 s per GiB, which real CBT never pays:
// the hypervisor marks blocks as the guest writes them. The lab does the same
// for the writes it performs on a disk's base file itself (guest writes through
// /lab/disk, consolidation of deltas): whole blocks are fingerprinted from the
// written data, partial ones re-hashed at the next epoch. Anything else that touches the file (a
// test writing the flat file directly, a restore over datastore HTTP) changes
// its modification time or size, and the next epoch hashes the whole file again.
type baseScan struct {
	path   string
	stamp  fileStamp
	hashes []uint64
	dirty  map[int64]bool
}

// fileStamp identifies a file's state: any write changes mtime and ctime (ctime cannot be set back),
// a replaced file has another inode.
type fileStamp struct {
	mtime, ctime time.Time
	size, inode  int64
}

func stampOf(path string) (fileStamp, bool) {
	st, err := os.Stat(path)
	if err != nil {
		return fileStamp{}, false
	}
	sys, ok := st.Sys().(*syscall.Stat_t)
	if !ok {
		return fileStamp{}, false
	}
	return fileStamp{st.ModTime(), time.Unix(sys.Ctim.Sec, sys.Ctim.Nsec), st.Size(), int64(sys.Ino)}, true
}

// baseHashes returns the block fingerprints of the base file at path, from the
// scan kept since the last epoch when nothing untracked touched the file.
func (d *labDisk) baseHashes(path string) ([]uint64, error) {
	s := d.scan
	now, ok := stampOf(path)
	if s == nil || !ok || s.path != path || s.stamp != now {
		hashes, err := fingerprint(path, d.Capacity)
		if err != nil {
			return nil, err
		}
		s = &baseScan{path: path, stamp: now, hashes: hashes, dirty: map[int64]bool{}}
		d.scan = s
	} else if len(s.dirty) > 0 {
		f, err := os.Open(path)
		if err != nil {
			return nil, err
		}
		defer f.Close()
		buf := make([]byte, cbtBlock)
		for b := range s.dirty {
			n, _ := f.ReadAt(buf, b*cbtBlock)
			for i := n; i < cbtBlock; i++ {
				buf[i] = 0
			}
			s.hashes[b] = hashBlock(buf)
		}
		s.dirty = map[int64]bool{}
	}
	return append([]uint64(nil), s.hashes...), nil
}

// beforeBaseWrite drops the scan if something untracked touched the file since.
func (d *labDisk) beforeBaseWrite(path string) {
	if s := d.scan; s != nil {
		if now, ok := stampOf(path); !ok || s.path != path || s.stamp != now {
			d.scan = nil
		}
	}
}

// afterBaseWrite records a write of data at off into the base file: blocks the
// write covers whole are fingerprinted from data at once (as ESXi sets bits
// in its change bitmap as the guest writes), partly covered ones are marked
// for re-hashing at the next epoch. The file's new stamp becomes the scan's own.
func (d *labDisk) afterBaseWrite(path string, off int64, data []byte) {
	s := d.scan
	if s == nil || s.path != path {
		return
	}
	end := off + int64(len(data))
	for b := off / cbtBlock; b*cbtBlock < end && b < int64(len(s.hashes)); b++ {
		start := b * cbtBlock
		if start >= off && start+cbtBlock <= end {
			s.hashes[b] = hashBlock(data[start-off : start-off+cbtBlock])
			delete(s.dirty, b)
		} else {
			s.dirty[b] = true
		}
	}
	if now, ok := stampOf(path); ok {
		s.stamp = now
	} else {
		d.scan = nil
	}
}
