package main

import (
	"fmt"
	"io"
	"log"
	"os"
	"sort"
	"sync"

	"github.com/vmware/govmomi/object"
	"github.com/vmware/govmomi/simulator"
	"github.com/vmware/govmomi/vim25/types"
)

// Hot-add: attaching another VM's disk to a helper VM (a backup proxy or a
// replication transporter), as VDDK's hot-add transport and Veeam's/NAKIVO's
// appliances do.
//
// vSphere: ReconfigVM_Task on the helper adding a VirtualDisk whose backing
// names an existing disk (fileOperation unset) attaches that disk: the helper
// gets the disk's current chain (top file, parents below) in a new SCSI slot.
// The running VM that owns the disk holds a lock on it (FileLocked); a powered
// on helper holds the lock while attached, so the owner can neither power on
// nor take snapshots. Removing the device without fileOperation=destroy
// detaches it and leaves the files. A chain deeper than the snapshot limit
// cannot be opened (TooManySnapshotLevels).
// vcsim 0.24.2: attaching a delta file fails (it looks for "-flat.vmdk"), no
// locks, no depth limit.
// Lab: naming any file of a lab disk's chain attaches the chain's current top
// file. The "device" that code in the helper opens is that top file's data
// path (GET /lab/vms: the helper's disk entry, flatPath and attachedFrom).
// While attached, the top delta holds every block of data the chain has
// (copied up at attach), so reads through the device see the whole disk; at
// detach the blocks written through the device are taken into the chain
// (allocated ranges of the sparse delta file). Write zeros, never punch holes.

// maxSnapshotLevels is the depth of a snapshot tree / delta chain vSphere allows.
const maxSnapshotLevels = 32

// attachment is one disk of another VM attached to a helper.
type attachment struct {
	helper types.ManagedObjectReference
	key    int32 // device key in the helper
	owner  *labVM
	disk   *labDisk
}

type hotAdds struct {
	mu sync.Mutex
	m  map[string]*attachment // helper moref + "/" + key
}

func attachmentID(helper types.ManagedObjectReference, key int32) string {
	return fmt.Sprintf("%s/%d", helper.Value, key)
}

func (h *hotAdds) all() []*attachment {
	h.mu.Lock()
	defer h.mu.Unlock()
	out := make([]*attachment, 0, len(h.m))
	for _, a := range h.m {
		out = append(out, a)
	}
	return out
}

func (h *hotAdds) get(helper types.ManagedObjectReference, key int32) *attachment {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.m[attachmentID(helper, key)]
}

func (h *hotAdds) put(a *attachment) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.m == nil {
		h.m = map[string]*attachment{}
	}
	h.m[attachmentID(a.helper, a.key)] = a
}

func (h *hotAdds) drop(a *attachment) {
	h.mu.Lock()
	defer h.mu.Unlock()
	delete(h.m, attachmentID(a.helper, a.key))
}

// pendingAttach is an attach request found before vcsim runs ReconfigVM.
type pendingAttach struct {
	device *types.VirtualDisk
	owner  *labVM
	disk   *labDisk
}

// findDiskFile returns the lab VM and disk one of whose chain files has that
// datastore path (other than the helper's own).
func (l *Lab) findDiskFile(name string, helper types.ManagedObjectReference) (*labVM, *labDisk) {
	l.adoptAllExcept(helper)
	for _, v := range l.records() {
		if v.Ref == helper {
			continue
		}
		vm := simVM(v.Ref)
		if vm == nil {
			continue
		}
		var found *labDisk
		simulator.Map.WithLock(vm, func() {
			for _, d := range v.Disks {
				if d.FileName == name {
					found = d
				}
				for _, f := range d.files {
					if f.name == name {
						found = d
					}
				}
			}
		})
		if found != nil {
			return v, found
		}
	}
	return nil, nil
}

// adoptAllExcept adopts the inventory's VMs except one whose lock the caller holds.
func (l *Lab) adoptAllExcept(skip types.ManagedObjectReference) {
	for _, e := range simulator.Map.All("VirtualMachine") {
		if vm, ok := e.(*simulator.VirtualMachine); ok && vm.Self != skip {
			l.record(vm.Self)
		}
	}
}

// prepareHotAdd looks at a ReconfigVM spec of a helper before vcsim runs it:
// each added disk naming a lab disk's file is checked (owner powered off,
// depth) and handed to vcsim as the disk's base file (which vcsim can find);
// finishHotAdd then gives the helper the real chain. Called without the
// helper's lock: it takes each owner's lock on its own, so that no VM lock is
// ever taken while an owner's is held (helper → owner is the only nesting).
func (l *Lab) prepareHotAdd(vm *simulator.VirtualMachine, spec *types.VirtualMachineConfigSpec) ([]pendingAttach, types.BaseMethodFault) {
	var out []pendingAttach
	for _, change := range spec.DeviceChange {
		ds := change.GetVirtualDeviceConfigSpec()
		disk, ok := ds.Device.(*types.VirtualDisk)
		if !ok || ds.Operation != types.VirtualDeviceConfigSpecOperationAdd || ds.FileOperation != "" {
			continue
		}
		b, ok := disk.Backing.(*types.VirtualDiskFlatVer2BackingInfo)
		if !ok || b.FileName == "" {
			continue
		}
		owner, d := l.findDiskFile(b.FileName, vm.Self)
		if d == nil {
			continue
		}
		ovm := simVM(owner.Ref)
		if ovm == nil {
			continue
		}
		var fault types.BaseMethodFault
		simulator.Map.WithLock(ovm, func() {
			switch {
			case ovm.Runtime.PowerState != types.VirtualMachinePowerStatePoweredOff:
				fault = &types.FileLocked{FileFault: types.FileFault{File: d.current.name}}
			case chainDepth(d.current) > maxSnapshotLevels:
				fault = &types.TooManySnapshotLevels{SnapshotFault: types.SnapshotFault{}}
			case l.attachedElsewhere(d):
				fault = &types.FileLocked{FileFault: types.FileFault{File: d.current.name}}
			}
			if fault == nil {
				fault = l.materialize(d)
			}
		})
		if fault != nil {
			return nil, fault
		}
		b.FileName = d.FileName // vcsim checks for "<base>-flat.vmdk"
		b.Parent = nil
		if disk.CapacityInBytes == 0 && disk.CapacityInKB == 0 {
			disk.CapacityInBytes, disk.CapacityInKB = d.Capacity, d.Capacity/1024
		}
		out = append(out, pendingAttach{device: disk, owner: owner, disk: d})
	}
	return out, nil
}

// assignUnits gives attached disks without a unit number the lowest free slots.
// Caller holds the helper's lock.
func assignUnits(vm *simulator.VirtualMachine, pending []pendingAttach) {
	devices := object.VirtualDeviceList(vm.Config.Hardware.Device)
	for i, p := range pending {
		if p.device.UnitNumber == nil {
			p.device.UnitNumber = freeUnit(devices, p.device.ControllerKey, pending[:i])
		}
	}
}

// freeUnit picks the lowest free unit number on a SCSI controller (7 is the controller's own).
func freeUnit(devices object.VirtualDeviceList, controller int32, pending []pendingAttach) *int32 {
	used := map[int32]bool{7: true}
	for _, d := range devices {
		v := d.GetVirtualDevice()
		if v.ControllerKey == controller && v.UnitNumber != nil {
			used[*v.UnitNumber] = true
		}
	}
	for _, p := range pending {
		if p.device.UnitNumber != nil && p.device.ControllerKey == controller {
			used[*p.device.UnitNumber] = true
		}
	}
	for u := int32(0); u < 16; u++ {
		if !used[u] {
			return types.NewInt32(u)
		}
	}
	return nil
}

// finishHotAdd runs after vcsim's ReconfigVM succeeded: attached disks get
// their chain backing and are recorded; detached ones have their writes taken
// into the chain. Caller holds the helper's lock.
func (l *Lab) finishHotAdd(vm *simulator.VirtualMachine, rec *labVM, pending []pendingAttach) {
	devices := object.VirtualDeviceList(vm.Config.Hardware.Device)
	for _, p := range pending {
		vd, ok := devices.FindByKey(p.device.Key).(*types.VirtualDisk)
		if !ok {
			continue
		}
		if ovm := simVM(p.owner.Ref); ovm != nil {
			simulator.Map.WithLock(ovm, func() { vd.Backing = p.disk.backing(p.disk.current, "") })
		}
		l.hotadd.put(&attachment{helper: vm.Self, key: vd.Key, owner: p.owner, disk: p.disk})
	}
	for _, a := range l.hotadd.all() {
		if a.helper == vm.Self && devices.FindByKey(a.key) == nil {
			l.detach(a)
		}
	}
	simulator.Map.Update(vm, []types.PropertyChange{{Name: "config.hardware.device", Val: vm.Config.Hardware.Device}})
	if rec != nil { // attached disks belong to their owner's record, not the helper's
		kept := rec.Disks[:0]
		for _, d := range rec.Disks {
			if l.hotadd.get(vm.Self, d.Key) == nil {
				kept = append(kept, d)
			}
		}
		rec.Disks = kept
	}
}

// detach takes the writes made through the device into the owner's chain.
func (l *Lab) detach(a *attachment) {
	l.hotadd.drop(a)
	if ovm := simVM(a.owner.Ref); ovm != nil {
		simulator.Map.WithLock(ovm, func() { absorb(a.disk) })
	} else {
		absorb(a.disk)
	}
}

// attachedElsewhere reports whether a disk is attached to a helper (that still exists).
func (l *Lab) attachedElsewhere(d *labDisk) bool {
	for _, a := range l.hotadd.all() {
		if a.disk == d && simVM(a.helper) != nil {
			return true
		}
	}
	return false
}

// lockedByHelper returns the FileLocked fault for an operation on the owner of
// disks attached to a powered-on helper (nil if none). Disks attached to a
// helper that no longer exists are detached first. Caller holds the owner's lock.
func (l *Lab) lockedByHelper(owner types.ManagedObjectReference) types.BaseMethodFault {
	for _, a := range l.hotadd.all() {
		if a.owner.Ref != owner {
			continue
		}
		h := simVM(a.helper)
		if h == nil {
			l.hotadd.drop(a)
			absorb(a.disk)
			continue
		}
		if h.Runtime.PowerState == types.VirtualMachinePowerStatePoweredOn {
			return &types.FileLocked{FileFault: types.FileFault{File: a.disk.current.name}}
		}
		absorb(a.disk)
	}
	return nil
}

// attachedDisk returns the attachment of a helper's device, if it is one.
func (l *Lab) attachedDisk(helper types.ManagedObjectReference, key int32) *attachment {
	return l.hotadd.get(helper, key)
}

func chainDepth(f *diskFile) int {
	n := 0
	for x := f; x != nil && x.blocks != nil; x = x.parent {
		n++
	}
	return n
}

// snapshotDepth is the level of the VM's current snapshot in its tree (0: none).
func snapshotDepth(vm *simulator.VirtualMachine) int {
	if vm.Snapshot == nil || vm.Snapshot.CurrentSnapshot == nil {
		return 0
	}
	var walk func(tree []types.VirtualMachineSnapshotTree, depth int) int
	walk = func(tree []types.VirtualMachineSnapshotTree, depth int) int {
		for _, t := range tree {
			if t.Snapshot == *vm.Snapshot.CurrentSnapshot {
				return depth
			}
			if d := walk(t.ChildSnapshotList, depth+1); d > 0 {
				return d
			}
		}
		return 0
	}
	return walk(vm.Snapshot.RootSnapshotList, 1)
}

// checkNewSnapshot is the lab's refusal of CreateSnapshot: the 33rd level, or
// disks held by a running helper. Caller holds the VM's lock.
func (l *Lab) checkNewSnapshot(vm *simulator.VirtualMachine) types.BaseMethodFault {
	if snapshotDepth(vm) >= maxSnapshotLevels {
		return &types.TooManySnapshotLevels{}
	}
	return l.lockedByHelper(vm.Self)
}

// materialize copies every block holding data below the top delta up into it,
// so the top file alone is the whole disk. Blocks are copied in disk order,
// consecutive blocks held by the same file in one read and one write (up to
// 4 MiB), each file opened once. Caller holds the owner's lock.
func (l *Lab) materialize(d *labDisk) types.BaseMethodFault {
	top := d.current
	if top.blocks == nil {
		return nil
	}
	// holder: the file below the top that holds each block with data.
	holder := map[int64]*diskFile{}
	for x := top.parent; x != nil; x = x.parent {
		if x.blocks != nil {
			for b := range x.blocks {
				if _, ok := holder[b]; !ok {
					holder[b] = x
				}
			}
			continue
		}
		ext, err := fileExtents(x.data, d.Capacity)
		if err != nil {
			return &types.FileFault{File: x.name}
		}
		for _, e := range ext {
			for b := e[0] / cbtBlock; b*cbtBlock < e[1]; b++ {
				if _, ok := holder[b]; !ok {
					holder[b] = x
				}
			}
		}
	}
	blocks := make([]int64, 0, len(holder))
	for b := range holder {
		if !top.blocks[b] {
			blocks = append(blocks, b)
		}
	}
	sort.Slice(blocks, func(i, j int) bool { return blocks[i] < blocks[j] })
	out, err := os.OpenFile(top.data, os.O_WRONLY, 0)
	if err != nil {
		return &types.FileFault{File: top.name}
	}
	defer out.Close()
	files := map[*diskFile]*os.File{}
	defer func() {
		for _, f := range files {
			f.Close()
		}
	}()
	const maxRun = 64 // blocks: 4 MiB
	buf := make([]byte, maxRun*cbtBlock)
	for i := 0; i < len(blocks); {
		from := holder[blocks[i]]
		j := i + 1
		for j < len(blocks) && j-i < maxRun && blocks[j] == blocks[j-1]+1 && holder[blocks[j]] == from {
			j++
		}
		in := files[from]
		if in == nil {
			if in, err = os.Open(from.data); err != nil {
				return &types.FileFault{File: from.name}
			}
			files[from] = in
		}
		part := buf[:int64(j-i)*cbtBlock]
		n, err := in.ReadAt(part, blocks[i]*cbtBlock)
		if err != nil && err != io.EOF {
			return &types.FileFault{File: from.name}
		}
		for k := n; k < len(part); k++ {
			part[k] = 0 // past the end of a shorter file: zeros
		}
		if _, err := out.WriteAt(part, blocks[i]*cbtBlock); err != nil {
			return &types.FileFault{File: top.name}
		}
		for _, b := range blocks[i:j] {
			top.blocks[b] = true
		}
		i = j
	}
	return nil
}

// absorb marks the blocks written through the device (the allocated ranges of
// the top delta's sparse file) as held by the delta. Caller holds the owner's lock.
func absorb(d *labDisk) {
	top := d.current
	if top.blocks == nil {
		return // the flat file itself was the device
	}
	ext, err := fileExtents(top.data, d.Capacity)
	if err != nil {
		log.Printf("hot-add detach %s: %v", top.name, err)
		return
	}
	for _, e := range ext {
		for b := e[0] / cbtBlock; b*cbtBlock < e[1]; b++ {
			top.blocks[b] = true
		}
	}
}

func fileExtents(path string, size int64) ([][2]int64, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if st.Size() < size {
		size = st.Size()
	}
	return dataExtents(f, size)
}

// attachedDiskInfos describes a helper's hot-added disks for GET /lab/vms.
// Caller holds the helper's lock.
func (l *Lab) attachedDiskInfos(vm *simulator.VirtualMachine) []diskInfo {
	var out []diskInfo
	for _, dev := range object.VirtualDeviceList(vm.Config.Hardware.Device).SelectByType((*types.VirtualDisk)(nil)) {
		a := l.attachedDisk(vm.Self, dev.GetVirtualDevice().Key)
		if a == nil {
			continue
		}
		d := a.disk
		show := func() {
			out = append(out, diskInfo{Key: a.key, FileName: d.current.name, DescriptorPath: d.current.descriptor, FlatPath: d.current.data,
				CapacityBytes: d.Capacity, Chain: d.chain(), CurrentFileName: d.current.name,
				AttachedFrom: &attachedFrom{VM: a.owner.Name, DiskKey: d.Key, FileName: d.FileName}})
		}
		if ovm := simVM(a.owner.Ref); ovm != nil {
			simulator.Map.WithLock(ovm, show)
		} else {
			show()
		}
	}
	return out
}
