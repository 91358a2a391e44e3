package main

import (
	"time"

	"github.com/vmware/govmomi/object"
	"github.com/vmware/govmomi/simulator"
	"github.com/vmware/govmomi/vim25/types"
)

// NIC edits in the guest-operation log.
//
// vSphere: a failover's re-IP disconnects a NIC (ReconfigVM edit,
// connectable.connected=false), changes the guest's addresses through guest
// operations, then connects the NIC again. Lab: every ReconfigVM edit of a
// network adapter is recorded in GET /lab/guest/calls as a call of kind "nic"
// (device key, network, connected, startConnected), in order with the guest's
// programs, so a test can check what ran while the NIC was disconnected.

// recordNICEdits records the NIC edits of a ReconfigVM spec that vcsim applied.
// Caller holds the VM's lock (not the guest state's).
func (l *Lab) recordNICEdits(vm *simulator.VirtualMachine, spec *types.VirtualMachineConfigSpec) {
	devices := object.VirtualDeviceList(vm.Config.Hardware.Device)
	var calls []guestCall
	for _, change := range spec.DeviceChange {
		ds := change.GetVirtualDeviceConfigSpec()
		if ds.Device == nil || ds.Operation != types.VirtualDeviceConfigSpecOperationEdit {
			continue
		}
		if _, ok := ds.Device.(types.BaseVirtualEthernetCard); !ok {
			continue
		}
		now, ok := devices.FindByKey(ds.Device.GetVirtualDevice().Key).(types.BaseVirtualEthernetCard)
		if !ok {
			continue
		}
		c := now.GetVirtualEthernetCard()
		call := guestCall{Kind: "nic", VM: vm.Name, VMRef: vm.Self.Value, Time: time.Now(), DeviceKey: c.Key}
		if b, ok := c.Backing.(*types.VirtualEthernetCardNetworkBackingInfo); ok {
			call.Network = b.DeviceName
		}
		if c.Connectable != nil {
			connected, start := c.Connectable.Connected, c.Connectable.StartConnected
			call.Connected, call.StartConnected = &connected, &start
		}
		calls = append(calls, call)
	}
	if len(calls) == 0 {
		return
	}
	l.guest.mu.Lock()
	l.guest.calls = append(l.guest.calls, calls...)
	l.guest.mu.Unlock()
}
