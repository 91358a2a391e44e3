package main

import (
	"fmt"
	"log"
	"os"
	"regexp"

	"github.com/vmware/govmomi/object"
	"github.com/vmware/govmomi/simulator"
	"github.com/vmware/govmomi/vim25/types"
)

// Growing a disk with ReconfigVM (an edit of the VirtualDisk with a larger
// capacityInBytes/capacityInKB), as a replica's disk follows its source's.
//
// vSphere: the disk's files grow; a disk with snapshots (a delta on top)
// cannot be extended: "Invalid operation for device '0'. Disks with parents
// cannot be expanded." (InvalidDeviceOperation); shrinking is refused.
// vcsim 0.24.2: changes the capacity in the config only, and any disk edit of
// a VM with snapshots fails with FileNotFound (it looks for "-flat.vmdk" of the delta).
// Lab: the refusals, then the flat file and its descriptor grow. CBT restarts
// for the grown disk (earlier changeIds are refused: query with "*").

type diskGrowth struct {
	disk     *labDisk
	capacity int64
}

// prepareResize finds disk edits that change a lab disk's capacity. Caller holds the VM's lock.
func (l *Lab) prepareResize(rec *labVM, spec *types.VirtualMachineConfigSpec) ([]diskGrowth, types.BaseMethodFault) {
	if rec == nil {
		return nil, nil
	}
	var out []diskGrowth
	for i, change := range spec.DeviceChange {
		ds := change.GetVirtualDeviceConfigSpec()
		vd, ok := ds.Device.(*types.VirtualDisk)
		if !ok || ds.Operation != types.VirtualDeviceConfigSpecOperationEdit {
			continue
		}
		size := vd.CapacityInBytes
		if size == 0 {
			size = vd.CapacityInKB * 1024
		}
		for _, d := range rec.Disks {
			if d.Key != vd.Key || size == 0 || size == d.Capacity {
				continue
			}
			bad := &types.InvalidDeviceOperation{InvalidDeviceSpec: types.InvalidDeviceSpec{DeviceIndex: int32(i)},
				BadOp: types.VirtualDeviceConfigSpecOperationEdit}
			if size < d.Capacity || d.current.blocks != nil {
				return nil, bad
			}
			vd.CapacityInBytes, vd.CapacityInKB = size, size/1024
			out = append(out, diskGrowth{disk: d, capacity: size})
		}
	}
	return out, nil
}

var extentLine = regexp.MustCompile(`(?m)^RW \d+ `)

// finishResize grows the files after vcsim accepted the edit. Caller holds the VM's lock.
func (l *Lab) finishResize(vm *simulator.VirtualMachine, grow []diskGrowth) {
	if len(grow) == 0 {
		return
	}
	for _, g := range grow {
		d := g.disk
		if err := os.Truncate(d.FlatPath, g.capacity); err != nil {
			log.Printf("grow %s: %v", d.FileName, err)
			continue
		}
		if text, err := os.ReadFile(d.DescriptorPath); err == nil {
			text = extentLine.ReplaceAll(text, []byte(fmt.Sprintf("RW %d ", g.capacity/512)))
			_ = os.WriteFile(d.DescriptorPath, text, 0o644)
		}
		d.Capacity = g.capacity
		d.scan = nil
		d.cbt = nil
	}
	for _, dev := range object.VirtualDeviceList(vm.Config.Hardware.Device).SelectByType((*types.VirtualDisk)(nil)) {
		vd := dev.(*types.VirtualDisk)
		for _, g := range grow {
			if vd.Key == g.disk.Key {
				vd.CapacityInBytes, vd.CapacityInKB = g.capacity, g.capacity/1024
			}
		}
	}
	if cbtEnabled(vm.Config) {
		if _, err := l.startEpochs(vm); err != nil {
			log.Printf("cbt after grow %s: %v", vm.Name, err)
		}
	}
	simulator.Map.Update(vm, []types.PropertyChange{{Name: "config.hardware.device", Val: vm.Config.Hardware.Device}})
}
