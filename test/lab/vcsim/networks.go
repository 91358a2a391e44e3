package main

import (
	"context"
	"fmt"

	"github.com/vmware/govmomi/object"
	"github.com/vmware/govmomi/simulator"
	"github.com/vmware/govmomi/vim25/mo"
	"github.com/vmware/govmomi/vim25/types"
)

// Networks of the standard inventory.
//
// vSphere: a standard portgroup lives on a host's vSwitch; vCenter shows one
// Network object per portgroup name, whose `host` lists the hosts that have it,
// and each host's `network` lists its Networks. A vSwitch without physical
// uplinks (no pnic, no bridge) is an isolated "bubble": VMs on it reach only
// each other (what test failovers use).
// vcsim 0.24.2: every host has "VM Network" only; AddPortGroup creates the
// Network object but links it to no host, refuses the same name on a second
// host, and names portgroups instead of keys in vSwitch.portgroup.
// Lab: the portgroups below, with the host links and keys vCenter shows.
type portgroupPlan struct {
	name    string
	vlan    int32
	vswitch string
	cluster string
}

const isolatedSwitch = "vSwitch-Isolated"

var standardPortgroups = []portgroupPlan{
	{"VM Network", 0, "vSwitch0", ""}, // every host (vcsim's default network)
	{"Prod-App", 20, "vSwitch0", "Production"},
	{"DR-Network", 0, "vSwitch0", "DR"},
	{"DR-App", 120, "vSwitch0", "DR"},
	{"Stillpoint-Test-Isolated", 0, isolatedSwitch, "DR"},
}

func portgroupKey(name string) string { return "key-vim.host.PortGroup-" + name }
func vswitchKey(name string) string   { return "key-vim.host.VirtualSwitch-" + name }

// buildNetworks creates the portgroups and links Networks and hosts.
func (l *Lab) buildNetworks(ctx context.Context, s *site) error {
	// Network objects: AddPortGroup on one host creates each (vcsim's folder bookkeeping and summary).
	for _, pg := range standardPortgroups[1:] {
		h := s.hosts[pg.cluster][0]
		ns, err := h.ConfigManager().NetworkSystem(ctx)
		if err != nil {
			return err
		}
		if pg.vswitch != "vSwitch0" {
			_ = ns.AddVirtualSwitch(ctx, pg.vswitch, &types.HostVirtualSwitchSpec{NumPorts: 128}) // AlreadyExists on the second portgroup
		}
		if err := ns.AddPortGroup(ctx, types.HostPortGroupSpec{Name: pg.name, VlanId: pg.vlan, VswitchName: pg.vswitch}); err != nil {
			return fmt.Errorf("portgroup %s: %w", pg.name, err)
		}
	}
	nets := map[string]types.ManagedObjectReference{}
	for _, e := range simulator.Map.All("Network") {
		if n, ok := e.(*mo.Network); ok {
			nets[n.Name] = n.Self
		}
	}
	members := map[string][]types.ManagedObjectReference{} // network name -> hosts
	for cluster, hosts := range s.hosts {
		for _, h := range hosts {
			var mine []portgroupPlan
			for _, pg := range standardPortgroups {
				if pg.cluster == "" || pg.cluster == cluster {
					mine = append(mine, pg)
					members[pg.name] = append(members[pg.name], h.Reference())
				}
			}
			l.setHostNetworking(h, mine, nets)
		}
	}
	for name, hosts := range members {
		if n, ok := simulator.Map.Get(nets[name]).(*mo.Network); ok {
			simulator.Map.WithLock(n, func() { n.Host = hosts })
		}
	}
	return nil
}

// setHostNetworking gives a host its vSwitches, portgroups and Network links.
func (l *Lab) setHostNetworking(h *object.HostSystem, pgs []portgroupPlan, nets map[string]types.ManagedObjectReference) {
	host := simulator.Map.Get(h.Reference()).(*simulator.HostSystem)
	ns := simulator.Map.Get(*host.ConfigManager.NetworkSystem).(*simulator.HostNetworkSystem)
	switches := map[string]*types.HostVirtualSwitch{}
	var order []string
	var portgroups []types.HostPortGroup
	var networks []types.ManagedObjectReference
	for _, pg := range pgs {
		sw := switches[pg.vswitch]
		if sw == nil {
			sw = &types.HostVirtualSwitch{Name: pg.vswitch, Key: vswitchKey(pg.vswitch), NumPorts: 128, NumPortsAvailable: 120, Mtu: 1500,
				Spec: types.HostVirtualSwitchSpec{NumPorts: 128, Mtu: 1500}}
			if pg.vswitch == "vSwitch0" { // uplinked; the isolated switch has none
				sw.Pnic = []string{"key-vim.host.PhysicalNic-vmnic0"}
				sw.Spec.Bridge = &types.HostVirtualSwitchBondBridge{NicDevice: []string{"vmnic0"}}
			}
			switches[pg.vswitch] = sw
			order = append(order, pg.vswitch)
		}
		sw.Portgroup = append(sw.Portgroup, portgroupKey(pg.name))
		portgroups = append(portgroups, types.HostPortGroup{Key: portgroupKey(pg.name), Vswitch: sw.Key,
			Spec: types.HostPortGroupSpec{Name: pg.name, VlanId: pg.vlan, VswitchName: pg.vswitch}})
		networks = append(networks, nets[pg.name])
	}
	var vswitches []types.HostVirtualSwitch
	for _, name := range order {
		vswitches = append(vswitches, *switches[name])
	}
	simulator.Map.WithLock(host, func() {
		info := *host.Config.Network
		info.Vswitch, info.Portgroup = vswitches, portgroups
		host.Config.Network = &info
		host.Network = networks
	})
	simulator.Map.WithLock(ns, func() {
		info := *ns.NetworkInfo
		info.Vswitch = append([]types.HostVirtualSwitch(nil), vswitches...)
		info.Portgroup = append([]types.HostPortGroup(nil), portgroups...)
		ns.NetworkInfo = &info
	})
}

// addNIC gives a VM of the inventory a vmxnet3 NIC on a network, connected.
func (l *Lab) addNIC(ctx context.Context, vm *object.VirtualMachine, network string) error {
	nic := &types.VirtualVmxnet3{VirtualVmxnet: types.VirtualVmxnet{VirtualEthernetCard: types.VirtualEthernetCard{
		VirtualDevice: types.VirtualDevice{Key: -1,
			Backing:     &types.VirtualEthernetCardNetworkBackingInfo{VirtualDeviceDeviceBackingInfo: types.VirtualDeviceDeviceBackingInfo{DeviceName: network}},
			Connectable: &types.VirtualDeviceConnectInfo{StartConnected: true, Connected: true, AllowGuestControl: true}},
		AddressType: string(types.VirtualEthernetCardMacTypeGenerated)}}}
	task, err := vm.Reconfigure(ctx, types.VirtualMachineConfigSpec{DeviceChange: []types.BaseVirtualDeviceConfigSpec{
		&types.VirtualDeviceConfigSpec{Operation: types.VirtualDeviceConfigSpecOperationAdd, Device: nic}}})
	if err != nil {
		return err
	}
	return task.Wait(ctx)
}

// checkNICs runs before vcsim's ReconfigVM/CreateVM device handling.
//
// vSphere: a NIC's network must exist and be available on the VM's host
// (InvalidDeviceBacking otherwise); an edit (of any device) may send the device
// as read, with or without deviceInfo. vcsim 0.24.2 panics on an unknown
// network name and on an edit without deviceInfo. Lab: the faults, and
// deviceInfo (label) and backing filled in from the device being edited; an
// edit of a device the VM lacks is InvalidDeviceSpec. Caller holds the VM's lock.
func checkNICs(vm *simulator.VirtualMachine, spec *types.VirtualMachineConfigSpec) types.BaseMethodFault {
	devices := object.VirtualDeviceList(vm.Config.Hardware.Device)
	for i, change := range spec.DeviceChange {
		ds := change.GetVirtualDeviceConfigSpec()
		if ds.Device == nil || ds.Operation == types.VirtualDeviceConfigSpecOperationRemove {
			continue
		}
		if ds.Operation == types.VirtualDeviceConfigSpecOperationEdit { // any device type: vcsim needs deviceInfo
			d := ds.Device.GetVirtualDevice()
			old := devices.FindByKey(d.Key)
			if old == nil {
				return &types.InvalidDeviceSpec{DeviceIndex: int32(i)}
			}
			if d.DeviceInfo == nil {
				info := types.Description{}
				if o := old.GetVirtualDevice().DeviceInfo; o != nil {
					info.Label = o.GetDescription().Label
				}
				d.DeviceInfo = &info
			}
			if d.Backing == nil {
				d.Backing = old.GetVirtualDevice().Backing
			}
		}
		card, ok := ds.Device.(types.BaseVirtualEthernetCard)
		if !ok {
			continue
		}
		d := card.GetVirtualEthernetCard()
		b, ok := d.Backing.(*types.VirtualEthernetCardNetworkBackingInfo)
		if !ok {
			continue
		}
		if !networkOnHost(b.DeviceName, vm.Runtime.Host) {
			return &types.InvalidDeviceBacking{InvalidDeviceSpec: types.InvalidDeviceSpec{
				InvalidVmConfig: types.InvalidVmConfig{Property: fmt.Sprintf("spec.deviceChange[%d].device.backing", i)}, DeviceIndex: int32(i)}}
		}
	}
	return nil
}

// networkOnHost reports whether a Network of that name exists and the host has it.
func networkOnHost(name string, hostRef *types.ManagedObjectReference) bool {
	for _, e := range simulator.Map.All("Network") {
		n, ok := e.(*mo.Network)
		if !ok || n.Name != name {
			continue
		}
		if hostRef == nil || len(n.Host) == 0 { // a network the lab did not link (large inventory): vcsim's rule
			return true
		}
		return simulator.FindReference(n.Host, *hostRef) != nil
	}
	return false
}

// syncGuestNICs makes guest.net follow edited NICs (network name, connected),
// as Tools reports them. Caller holds the VM's lock.
func syncGuestNICs(vm *simulator.VirtualMachine) {
	if vm.Guest == nil {
		return
	}
	net := append([]types.GuestNicInfo(nil), vm.Guest.Net...)
	for i := range net {
		dev := object.VirtualDeviceList(vm.Config.Hardware.Device).FindByKey(net[i].DeviceConfigId)
		card, ok := dev.(types.BaseVirtualEthernetCard)
		if !ok {
			continue
		}
		c := card.GetVirtualEthernetCard()
		if b, ok := c.Backing.(*types.VirtualEthernetCardNetworkBackingInfo); ok {
			net[i].Network = b.DeviceName
		}
		if c.Connectable != nil {
			net[i].Connected = c.Connectable.Connected
		}
	}
	simulator.Map.Update(vm, []types.PropertyChange{{Name: "guest.net", Val: net}})
}
