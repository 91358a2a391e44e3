package main

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"

	"github.com/vmware/govmomi/object"
	"github.com/vmware/govmomi/simulator"
	"github.com/vmware/govmomi/vim25/types"
)

// Snapshot disk chains.
//
// vSphere: creating a snapshot freezes each disk's current file and adds a
// delta disk ("<disk>-000001.vmdk" + "-delta.vmdk") on top of it that takes the
// guest's writes; the VM's disk backing then names the delta, with backing.parent
// naming the frozen file, while the snapshot's config keeps naming the frozen
// file. Removing a snapshot merges the delta above its file into that file
// ("consolidation"); reverting starts a new delta on the snapshot's file.
// vcsim 0.24.2 does none of this.
//
// Lab: the same chain of files on the datastore. A delta's data file holds
// the 64 KiB blocks written since the snapshot at their disk offsets (a sparse
// raw file, not VMware's sparse format: nothing but the lab reads it). Guest
// writes (POST /lab/disk) copy a block up into the top delta before changing it.
// A file that no snapshot refers to and that has exactly one child is merged
// with that child whenever a snapshot is removed or disks are consolidated.

// diskFile is one file of a disk chain.
type diskFile struct {
	name       string // "[prod-ds1] win-app01/win-app01-000001.vmdk"
	descriptor string // local path of the descriptor
	data       string // local path of the data (-flat.vmdk / -delta.vmdk)
	parent     *diskFile
	blocks     map[int64]bool // delta: blocks present; nil: a flat file (complete)
}

// snapState is what the lab keeps per snapshot: the file each disk's config
// names and the CBT epoch of each disk.
type snapState struct {
	vm    types.ManagedObjectReference
	files map[int32]*diskFile
	seqs  map[int32]int
}

var snapStates = struct {
	sync.Mutex
	m map[string]*snapState
}{m: map[string]*snapState{}}

func snapshotState(ref types.ManagedObjectReference) *snapState {
	snapStates.Lock()
	defer snapStates.Unlock()
	return snapStates.m[ref.Value]
}

// referenced returns the files the snapshots of a VM name, for one disk.
func referenced(vm types.ManagedObjectReference, key int32) map[*diskFile]bool {
	snapStates.Lock()
	defer snapStates.Unlock()
	refs := map[*diskFile]bool{}
	for _, s := range snapStates.m {
		if s.vm == vm && s.files[key] != nil {
			refs[s.files[key]] = true
		}
	}
	return refs
}

// readBlock reads block b of the disk as seen from file f (zeros past the end).
func (d *labDisk) readBlock(f *diskFile, b int64, buf []byte) error {
	for x := f; x != nil; x = x.parent {
		if x.blocks != nil && !x.blocks[b] {
			continue
		}
		fh, err := os.Open(x.data)
		if err != nil {
			return err
		}
		defer fh.Close()
		n, err := fh.ReadAt(buf, b*cbtBlock)
		if err != nil && err != io.EOF {
			return err
		}
		for i := n; i < len(buf); i++ {
			buf[i] = 0
		}
		return nil
	}
	for i := range buf {
		buf[i] = 0
	}
	return nil
}

// guestWrite writes data at off as the guest would: into the flat file, or
// (while snapshots exist) into the top delta, copying touched blocks up first.
// Caller holds the VM's lock.
func (d *labDisk) guestWrite(off int64, data []byte) error {
	top := d.current
	f, err := os.OpenFile(top.data, os.O_WRONLY, 0)
	if err != nil {
		return err
	}
	defer f.Close()
	if top.blocks != nil {
		buf := make([]byte, cbtBlock)
		for b := off / cbtBlock; b*cbtBlock < off+int64(len(data)); b++ {
			if top.blocks[b] {
				continue
			}
			if err := d.readBlock(top.parent, b, buf); err != nil {
				return err
			}
			if _, err := f.WriteAt(buf, b*cbtBlock); err != nil {
				return err
			}
			top.blocks[b] = true
		}
	}
	if top.blocks == nil {
		d.beforeBaseWrite(top.data)
	}
	if _, err = f.WriteAt(data, off); err != nil {
		d.scan = nil // what reached the file is unknown: the next epoch hashes it all
		return err
	}
	if top.blocks == nil {
		d.afterBaseWrite(top.data, off, data)
	}
	return nil
}

// contentHashes fingerprints the disk as seen from its current file.
func (d *labDisk) contentHashes() ([]uint64, error) {
	base := d.current
	for base.parent != nil {
		base = base.parent
	}
	hashes, err := d.baseHashes(base.data)
	if err != nil {
		return nil, err
	}
	buf := make([]byte, cbtBlock)
	for x := d.current; x.blocks != nil; x = x.parent {
		for b := range x.blocks {
			if err := d.readBlock(d.current, b, buf); err != nil {
				return nil, err
			}
			hashes[b] = hashBlock(buf)
		}
	}
	return hashes, nil
}

// newDelta puts a new delta file on top of the disk's current file.
func (d *labDisk) newDelta() error {
	d.deltas++
	stem := strings.TrimSuffix(filepath.Base(d.DescriptorPath), ".vmdk")
	name := fmt.Sprintf("%s-%06d", stem, d.deltas)
	dir := filepath.Dir(d.DescriptorPath)
	f := &diskFile{
		name:       strings.TrimSuffix(d.FileName, stem+".vmdk") + name + ".vmdk",
		descriptor: filepath.Join(dir, name+".vmdk"),
		data:       filepath.Join(dir, name+"-delta.vmdk"),
		parent:     d.current,
		blocks:     map[int64]bool{},
	}
	data, err := os.Create(f.data)
	if err != nil {
		return err
	}
	defer data.Close()
	if err := data.Truncate(d.Capacity); err != nil {
		return err
	}
	parentHint := filepath.Base(d.current.descriptor)
	desc := fmt.Sprintf(`# Disk DescriptorFile
version=1
encoding="UTF-8"
CID=%s
parentCID=%s
createType="vmfsSparse"
parentFileNameHint="%s"

# Extent description
RW %d VMFSSPARSE "%s-delta.vmdk"

# The Disk Data Base
#DDB

ddb.longContentID = "%s"
`, randomHex(4), randomHex(4), parentHint, d.Capacity/512, name, randomHex(16))
	if err := os.WriteFile(f.descriptor, []byte(desc), 0o644); err != nil {
		return err
	}
	d.current = f
	d.files = append(d.files, f)
	return nil
}

// merge copies child's blocks into its parent f, re-points everything that
// named child to f and deletes child's files.
func (d *labDisk) merge(vm types.ManagedObjectReference, f, child *diskFile) error {
	out, err := os.OpenFile(f.data, os.O_WRONLY, 0)
	if err != nil {
		return err
	}
	defer out.Close()
	in, err := os.Open(child.data)
	if err != nil {
		return err
	}
	defer in.Close()
	if f.blocks == nil {
		d.beforeBaseWrite(f.data)
	}
	buf := make([]byte, cbtBlock)
	for b := range child.blocks {
		n, err := in.ReadAt(buf, b*cbtBlock)
		if err != nil && err != io.EOF {
			return err
		}
		if _, err := out.WriteAt(buf[:n], b*cbtBlock); err != nil {
			if f.blocks == nil {
				d.scan = nil
			}
			return err
		}
		if f.blocks != nil {
			f.blocks[b] = true
		} else {
			d.afterBaseWrite(f.data, b*cbtBlock, buf[:n])
		}
	}
	for _, x := range d.files {
		if x.parent == child {
			x.parent = f
		}
	}
	if d.current == child {
		d.current = f
	}
	snapStates.Lock()
	for _, s := range snapStates.m {
		if s.vm == vm && s.files[d.Key] == child {
			s.files[d.Key] = f
		}
	}
	snapStates.Unlock()
	d.drop(child)
	return nil
}

// drop forgets a file and deletes it from the datastore.
func (d *labDisk) drop(f *diskFile) {
	for i, x := range d.files {
		if x == f {
			d.files = append(d.files[:i], d.files[i+1:]...)
			break
		}
	}
	_ = os.Remove(f.data)
	_ = os.Remove(f.descriptor)
}

// consolidate merges every file that no snapshot names into its only child
// and deletes leaves nothing uses any more. Caller holds the VM's lock.
func (d *labDisk) consolidate(vm types.ManagedObjectReference) error {
	for changed := true; changed; {
		changed = false
		refs := referenced(vm, d.Key)
		for _, f := range d.files {
			var children []*diskFile
			for _, x := range d.files {
				if x.parent == f {
					children = append(children, x)
				}
			}
			switch {
			case len(children) == 1 && !refs[f]:
				if err := d.merge(vm, f, children[0]); err != nil {
					return err
				}
				changed = true
			case len(children) == 0 && !refs[f] && f != d.current && f.parent != nil:
				d.drop(f)
				changed = true
			}
			if changed {
				break
			}
		}
	}
	return nil
}

// needsConsolidation reports whether consolidate would merge anything.
func (d *labDisk) needsConsolidation(vm types.ManagedObjectReference) bool {
	refs := referenced(vm, d.Key)
	for _, f := range d.files {
		n := 0
		for _, x := range d.files {
			if x.parent == f {
				n++
			}
		}
		if (n == 1 && !refs[f]) || (n == 0 && !refs[f] && f != d.current && f.parent != nil) {
			return true
		}
	}
	return false
}

// backing builds the backing info of a chain ending in f, from the disk's
// original backing (keeping changeId, which the caller passes).
func (d *labDisk) backing(f *diskFile, changeID string) *types.VirtualDiskFlatVer2BackingInfo {
	b := d.template
	b.FileName = f.name
	b.ChangeId = changeID
	b.Parent = nil
	if f.blocks != nil {
		b.DeltaDiskFormat = string(types.VirtualDiskDeltaDiskFormatRedoLogFormat)
	}
	if f.parent != nil {
		b.Parent = d.backing(f.parent, "")
	}
	return &b
}

// syncBackings rewrites the disk backings in the VM's config and in each of
// its snapshots' configs from the lab's chains. Caller holds the VM's lock.
func (l *Lab) syncBackings(vm *simulator.VirtualMachine, rec *labVM) {
	apply := func(devices []types.BaseVirtualDevice, file func(*labDisk) *diskFile) {
		for _, dev := range object.VirtualDeviceList(devices).SelectByType((*types.VirtualDisk)(nil)) {
			vd := dev.(*types.VirtualDisk)
			for _, d := range rec.Disks {
				f := file(d)
				if d.Key != vd.Key || f == nil {
					continue
				}
				changeID := ""
				if old, ok := vd.Backing.(*types.VirtualDiskFlatVer2BackingInfo); ok {
					changeID = old.ChangeId
				}
				vd.Backing = d.backing(f, changeID)
			}
		}
	}
	apply(vm.Config.Hardware.Device, func(d *labDisk) *diskFile { return d.current })
	simulator.Map.Update(vm, []types.PropertyChange{{Name: "config.hardware.device", Val: vm.Config.Hardware.Device}})
	snapStates.Lock()
	var states []*snapState
	var refs []types.ManagedObjectReference
	for v, s := range snapStates.m {
		if s.vm == vm.Self {
			states = append(states, s)
			refs = append(refs, types.ManagedObjectReference{Type: "VirtualMachineSnapshot", Value: v})
		}
	}
	snapStates.Unlock()
	for i, s := range states {
		if snap, ok := simulator.Map.Get(refs[i]).(*simulator.VirtualMachineSnapshot); ok {
			apply(snap.Config.Hardware.Device, func(d *labDisk) *diskFile { return s.files[d.Key] })
		}
	}
}

// forgetSnapshots drops the lab state of snapshots, merges what is no longer
// needed (unless keepDeltas) and updates the configs and
// runtime.consolidationNeeded. Caller holds the VM's lock.
func (l *Lab) forgetSnapshots(vm *simulator.VirtualMachine, rec *labVM, snaps []types.ManagedObjectReference, keepDeltas bool) error {
	snapStates.Lock()
	for _, s := range snaps {
		delete(snapStates.m, s.Value)
	}
	snapStates.Unlock()
	var err error
	needed := false
	for _, d := range rec.Disks {
		if !keepDeltas {
			if e := d.consolidate(vm.Self); e != nil && err == nil {
				err = e
			}
		}
		needed = needed || d.needsConsolidation(vm.Self)
	}
	l.syncBackings(vm, rec)
	simulator.Map.Update(vm, []types.PropertyChange{{Name: "runtime.consolidationNeeded", Val: needed}})
	return err
}

// subtree lists a snapshot and its descendants, children first.
func subtree(tree []types.VirtualMachineSnapshotTree, ref types.ManagedObjectReference) []types.ManagedObjectReference {
	item := findTreeItem(tree, ref)
	if item == nil {
		return []types.ManagedObjectReference{ref}
	}
	var out []types.ManagedObjectReference
	var walk func(t types.VirtualMachineSnapshotTree)
	walk = func(t types.VirtualMachineSnapshotTree) {
		for _, c := range t.ChildSnapshotList {
			walk(c)
		}
		out = append(out, t.Snapshot)
	}
	walk(*item)
	return out
}

// chainInfo describes a disk's files for GET /lab/vms, current file first.
type chainInfo struct {
	FileName       string `json:"fileName"`
	DescriptorPath string `json:"descriptorPath"`
	DataPath       string `json:"dataPath"`
	Delta          bool   `json:"delta"`
	Blocks         int    `json:"blocks,omitempty"` // delta: 64 KiB blocks it holds
}

func (d *labDisk) chain() []chainInfo {
	var out []chainInfo
	for f := d.current; f != nil; f = f.parent {
		blocks := make([]int64, 0, len(f.blocks))
		for b := range f.blocks {
			blocks = append(blocks, b)
		}
		sort.Slice(blocks, func(i, j int) bool { return blocks[i] < blocks[j] })
		out = append(out, chainInfo{FileName: f.name, DescriptorPath: f.descriptor, DataPath: f.data, Delta: f.blocks != nil, Blocks: len(blocks)})
	}
	return out
}
