package main

import (
	"os"
	"path/filepath"
	"strings"

	"github.com/vmware/govmomi/object"
	"github.com/vmware/govmomi/simulator"
	"github.com/vmware/govmomi/vim25/mo"
	"github.com/vmware/govmomi/vim25/types"
)

// VMs the lab did not build (CreateVM_Task, CloneVM_Task, RegisterVM_Task:
// e.g. a restore to a new VM) are adopted the first time the lab needs them,
// so snapshots, CBT, guest writes and /lab/vms work for them too.
//
// vSphere: creating a disk writes a descriptor and a flat file of the disk's
// capacity (thin: sparse). vcsim creates both files empty; adopting a VM
// completes them the same way.

// record returns the lab's record of a VM, adopting the VM if needed.
func (l *Lab) record(ref types.ManagedObjectReference) *labVM {
	if rec := l.vmByRef(ref); rec != nil {
		return rec
	}
	vm := simVM(ref)
	if vm == nil {
		return nil
	}
	var rec *labVM
	simulator.Map.WithLock(vm, func() { rec = l.adopt(vm) })
	return rec
}

// adoptAll adopts every VM in the inventory that the lab does not know yet.
func (l *Lab) adoptAll() {
	for _, e := range simulator.Map.All("VirtualMachine") {
		l.record(e.(mo.Reference).Reference())
	}
}

// adopt builds the lab record of a VM from its config. Caller holds the VM's lock.
func (l *Lab) adopt(vm *simulator.VirtualMachine) *labVM {
	if vm.Config == nil {
		return nil
	}
	var home object.DatastorePath
	if !home.FromString(vm.Config.Files.VmPathName) {
		return nil
	}
	rec := &labVM{Name: vm.Name, Ref: vm.Self, Datastore: home.Datastore, Dir: filepath.Dir(home.Path),
		Windows: strings.HasPrefix(vm.Config.GuestId, "win"), Tools: true}
	l.syncDisks(vm, rec)
	l.addVM(rec)
	return rec
}

// syncDisks adds the VM's disks the record lacks (completing their files) and
// drops disks the VM no longer has. Caller holds the VM's lock.
func (l *Lab) syncDisks(vm *simulator.VirtualMachine, rec *labVM) {
	present := map[int32]bool{}
	for _, dev := range object.VirtualDeviceList(vm.Config.Hardware.Device).SelectByType((*types.VirtualDisk)(nil)) {
		vd := dev.(*types.VirtualDisk)
		present[vd.Key] = true
		known := false
		for _, d := range rec.Disks {
			known = known || d.Key == vd.Key
		}
		b, ok := vd.Backing.(*types.VirtualDiskFlatVer2BackingInfo)
		if known || !ok || b.Parent != nil {
			continue
		}
		descriptor, flat := l.localDiskPaths(b.FileName)
		if descriptor == "" {
			continue
		}
		size := vd.CapacityInBytes
		if size == 0 {
			size = vd.CapacityInKB * 1024
		}
		if st, err := os.Stat(flat); err != nil || st.Size() < size {
			if f, err := os.OpenFile(flat, os.O_CREATE|os.O_WRONLY, 0o644); err == nil {
				_ = f.Truncate(size)
				_ = f.Close()
			}
		}
		if st, err := os.Stat(descriptor); err != nil || st.Size() == 0 {
			name := strings.TrimSuffix(filepath.Base(descriptor), ".vmdk")
			_ = os.WriteFile(descriptor, []byte(diskDescriptor(name, size, strings.TrimPrefix(vm.Config.Version, "vmx-"), "lsilogic")), 0o644)
		}
		rec.Disks = append(rec.Disks, newLabDisk(vd.Key, b.FileName, descriptor, flat, size, *b))
	}
	kept := rec.Disks[:0]
	for _, d := range rec.Disks {
		if present[d.Key] {
			kept = append(kept, d)
		}
	}
	rec.Disks = kept
}

// localDiskPaths maps "[ds] dir/x.vmdk" to the local descriptor and flat file.
func (l *Lab) localDiskPaths(fileName string) (string, string) {
	var p object.DatastorePath
	if !p.FromString(fileName) {
		return "", ""
	}
	for _, e := range simulator.Map.All("Datastore") {
		if ds, ok := e.(*simulator.Datastore); ok && ds.Name == p.Datastore {
			descriptor := filepath.Join(ds.Info.GetDatastoreInfo().Url, p.Path)
			return descriptor, strings.TrimSuffix(descriptor, ".vmdk") + "-flat.vmdk"
		}
	}
	return "", ""
}
