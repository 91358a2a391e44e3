package main

import (
	"bytes"
	"crypto/rand"
	"fmt"
	"hash/maphash"
	"os"
	"strconv"
	"strings"

	"github.com/vmware/govmomi/object"
	"github.com/vmware/govmomi/simulator"
	"github.com/vmware/govmomi/vim25/methods"
	"github.com/vmware/govmomi/vim25/soap"
	"github.com/vmware/govmomi/vim25/types"
)

// Changed Block Tracking, computed from the disk's flat file.
//
// Real ESXi keeps a change bitmap per disk (the -ctk.vmdk file) and hands out a
// changeId "<uuid>/<sequence>" each time the disk is stunned (snapshot create,
// CBT enable). The lab instead records a fingerprint of every 64 KiB block at
// each of those moments (an "epoch"); QueryChangedDiskAreas compares the epoch
// of the given changeId with the epoch of the given snapshot. Content that was
// rewritten with identical bytes is not reported (real CBT would report it;
// over-reporting is allowed, the lab is simply exact).
const (
	cbtBlock     = 64 * 1024
	cbtMaxEpochs = 32      // older changeIds are "too old" (InvalidArgument), like after a CBT reset
	cbtPageBytes = 1 << 30 // at most this much of the disk is examined per call
	cbtPageAreas = 1024    // and at most this many areas are returned per call
)

var hashSeed = maphash.MakeSeed()

// cbtEpoch holds the block fingerprints of a disk at one moment; 0 = all zero.
type cbtEpoch struct {
	seq    int
	hashes []uint64
}

// cbtDisk is the CBT state of one disk.
type cbtDisk struct {
	uuid   string // "52 de 5b … 5f": changes when tracking is (re)started
	seq    int
	epochs []*cbtEpoch
}

func (c *cbtDisk) changeID(seq int) string { return fmt.Sprintf("%s/%d", c.uuid, seq) }

func (c *cbtDisk) epoch(seq int) *cbtEpoch {
	for _, e := range c.epochs {
		if e.seq == seq {
			return e
		}
	}
	return nil
}

func newCBTUUID() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	b[0] = 0x52
	parts := make([]string, 16)
	for i := range b {
		parts[i] = fmt.Sprintf("%02x", b[i])
	}
	return strings.Join(parts[:8], " ") + "-" + strings.Join(parts[8:], " ")
}

// fingerprint hashes every block of a flat file, skipping holes.
func fingerprint(path string, capacity int64) ([]uint64, error) {
	n := (capacity + cbtBlock - 1) / cbtBlock
	hashes := make([]uint64, n)
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	extents, err := dataExtents(f, capacity)
	if err != nil {
		return nil, err
	}
	buf := make([]byte, cbtBlock)
	done := int64(-1)
	for _, e := range extents {
		for b := e[0] / cbtBlock; b*cbtBlock < e[1] && b < n; b++ {
			if b <= done {
				continue
			}
			done = b
			k, _ := f.ReadAt(buf, b*cbtBlock)
			for i := k; i < cbtBlock; i++ {
				buf[i] = 0
			}
			hashes[b] = hashBlock(buf)
		}
	}
	return hashes, nil
}

var zeroBlock = make([]byte, cbtBlock)

// hashBlock fingerprints one block: 0 for all zeros, otherwise an odd 64-bit hash.
func hashBlock(buf []byte) uint64 {
	if bytes.Equal(buf, zeroBlock) {
		return 0
	}
	var h maphash.Hash
	h.SetSeed(hashSeed)
	_, _ = h.Write(buf)
	return h.Sum64() | 1
}

// newEpoch starts tracking a disk (new uuid) or records its next epoch, and
// returns the new changeId. Caller holds the VM's lock.
func (d *labDisk) newEpoch() (string, error) {
	hashes, err := d.contentHashes()
	if err != nil {
		return "", err
	}
	if d.cbt == nil {
		d.cbt = &cbtDisk{uuid: newCBTUUID()}
	}
	d.cbt.seq++
	d.cbt.epochs = append(d.cbt.epochs, &cbtEpoch{seq: d.cbt.seq, hashes: hashes})
	if len(d.cbt.epochs) > cbtMaxEpochs {
		d.cbt.epochs = d.cbt.epochs[1:]
	}
	return d.cbt.changeID(d.cbt.seq), nil
}

// setChangeIDs writes each disk's changeId into a device list's disk backings.
func setChangeIDs(devices []types.BaseVirtualDevice, ids map[int32]string) {
	for _, d := range object.VirtualDeviceList(devices).SelectByType((*types.VirtualDisk)(nil)) {
		disk := d.(*types.VirtualDisk)
		if b, ok := disk.Backing.(*types.VirtualDiskFlatVer2BackingInfo); ok {
			if id, ok := ids[disk.Key]; ok {
				b.ChangeId = id
			}
		}
	}
}

// startTracking starts a new epoch on every disk of a VM with CBT enabled and
// sets the disks' changeId in the VM's config. Caller holds the VM's lock.
func (l *Lab) startEpochs(vm *simulator.VirtualMachine) (map[int32]int, error) {
	rec := l.vmByRef(vm.Self)
	if rec == nil {
		return nil, nil
	}
	seqs := map[int32]int{}
	ids := map[int32]string{}
	for _, d := range rec.Disks {
		id, err := d.newEpoch()
		if err != nil {
			return nil, err
		}
		ids[d.Key] = id
		seqs[d.Key] = d.cbt.seq
	}
	setChangeIDs(vm.Config.Hardware.Device, ids)
	simulator.Map.Update(vm, []types.PropertyChange{{Name: "config.hardware.device", Val: vm.Config.Hardware.Device}})
	return seqs, nil
}

// stopTracking forgets all CBT state of a VM (CBT disabled) and clears the changeIds.
func (l *Lab) stopTracking(vm *simulator.VirtualMachine) {
	rec := l.vmByRef(vm.Self)
	if rec == nil {
		return
	}
	ids := map[int32]string{}
	for _, d := range rec.Disks {
		d.cbt = nil
		ids[d.Key] = ""
	}
	setChangeIDs(vm.Config.Hardware.Device, ids)
	simulator.Map.Update(vm, []types.PropertyChange{{Name: "config.hardware.device", Val: vm.Config.Hardware.Device}})
}

func cbtEnabled(c *types.VirtualMachineConfigInfo) bool {
	return c != nil && c.ChangeTrackingEnabled != nil && *c.ChangeTrackingEnabled
}

// QueryChangedDiskAreas returns the areas of a disk that changed between the
// moment identified by changeId and the given snapshot.
//
// vSphere: changeId "*" returns the allocated areas of the disk; otherwise the
// areas written since changeId. Results cover [startOffset, startOffset+length)
// and callers page by continuing at startOffset+length. It fails with FileFault
// when CBT is not enabled for the disk, and InvalidArgument for an unknown
// deviceKey, startOffset outside the disk, or a changeId that is not (or no
// longer) valid. Lab: exact differences of 64 KiB block fingerprints, one page
// is at most 1 GiB of the disk or 1024 areas.
func (o *LabVirtualMachine) QueryChangedDiskAreas(ctx *simulator.Context, req *types.QueryChangedDiskAreas) soap.HasFault {
	body := &methods.QueryChangedDiskAreasBody{}
	vm := simVM(o.target())
	rec := o.lab.record(o.target())
	if vm == nil || rec == nil {
		body.Fault_ = o.gone()
		return body
	}
	o.withLock(ctx, vm, func() {
		info, fault, msg := o.lab.changedAreas(vm, rec, req)
		if fault != nil {
			body.Fault_ = simulator.Fault(msg, fault)
			return
		}
		body.Res = &types.QueryChangedDiskAreasResponse{Returnval: *info}
	})
	return body
}

func invalidArgument(prop string) (*types.DiskChangeInfo, types.BaseMethodFault, string) {
	return nil, &types.InvalidArgument{InvalidProperty: prop}, "A specified parameter was not correct: " + prop
}

func (l *Lab) changedAreas(vm *simulator.VirtualMachine, rec *labVM, req *types.QueryChangedDiskAreas) (*types.DiskChangeInfo, types.BaseMethodFault, string) {
	var disk *labDisk
	for _, d := range rec.Disks {
		if d.Key == req.DeviceKey {
			disk = d
		}
	}
	if disk == nil {
		return invalidArgument("deviceKey")
	}
	fileFault := func() (*types.DiskChangeInfo, types.BaseMethodFault, string) {
		return nil, &types.FileFault{File: disk.FileName}, "Error caused by file " + disk.FileName
	}

	// The target epoch: the snapshot's, or (no snapshot) the disk as it is now.
	var target []uint64
	if req.Snapshot != nil {
		snap, ok := simulator.Map.Get(*req.Snapshot).(*simulator.VirtualMachineSnapshot)
		if !ok {
			return nil, &types.ManagedObjectNotFound{Obj: *req.Snapshot}, "The object has already been deleted or has not been completely created"
		}
		if snap.Vm != vm.Self {
			return invalidArgument("snapshot")
		}
		seq, ok := 0, false
		if st := snapshotState(snap.Self); st != nil {
			seq, ok = st.seqs[disk.Key]
		}
		if !ok || disk.cbt == nil || !cbtEnabled(&snap.Config) {
			return fileFault()
		}
		e := disk.cbt.epoch(seq)
		if e == nil {
			return fileFault()
		}
		target = e.hashes
	} else {
		if disk.cbt == nil || !cbtEnabled(vm.Config) {
			return fileFault()
		}
		h, err := disk.contentHashes()
		if err != nil {
			return fileFault()
		}
		target = h
	}
	if !cbtEnabled(vm.Config) || disk.cbt == nil {
		return fileFault()
	}
	if req.StartOffset < 0 || req.StartOffset >= disk.Capacity {
		return invalidArgument("startOffset")
	}

	var base []uint64 // nil: "*" (compare with an all-zero disk)
	if req.ChangeId != "*" {
		i := strings.LastIndex(req.ChangeId, "/")
		if i < 0 || req.ChangeId[:i] != disk.cbt.uuid {
			return invalidArgument("changeId")
		}
		seq, err := strconv.Atoi(req.ChangeId[i+1:])
		if err != nil {
			return invalidArgument("changeId")
		}
		e := disk.cbt.epoch(seq)
		if e == nil {
			return invalidArgument("changeId")
		}
		base = e.hashes
	}

	changed := func(b int64) bool {
		if base == nil {
			return target[b] != 0
		}
		return target[b] != base[b]
	}
	info := &types.DiskChangeInfo{StartOffset: req.StartOffset}
	end := req.StartOffset + cbtPageBytes
	if end > disk.Capacity {
		end = disk.Capacity
	}
	covered := end
	nblocks := int64(len(target))
	for b := req.StartOffset / cbtBlock; b < nblocks && b*cbtBlock < end; b++ {
		if !changed(b) {
			continue
		}
		start := b * cbtBlock
		if len(info.ChangedArea) == cbtPageAreas {
			covered = start // the next call starts at this area
			break
		}
		for b+1 < nblocks && (b+1)*cbtBlock < end && changed(b+1) {
			b++
		}
		stop := (b + 1) * cbtBlock
		if stop > disk.Capacity {
			stop = disk.Capacity
		}
		if start < req.StartOffset {
			start = req.StartOffset
		}
		info.ChangedArea = append(info.ChangedArea, types.DiskChangeExtent{Start: start, Length: stop - start})
	}
	if n := len(info.ChangedArea); n > 0 && covered == end {
		if last := info.ChangedArea[n-1]; last.Start+last.Length > covered {
			covered = last.Start + last.Length // a block straddling the page end
		}
	}
	info.Length = covered - req.StartOffset
	return info, nil, ""
}
