package main

import (
	"context"
	"encoding/hex"
	"fmt"
	"math/rand"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/vmware/govmomi/object"
	"github.com/vmware/govmomi/simulator"
	"github.com/vmware/govmomi/vim25/types"
)

const mib = 1 << 20

// site is the part of the inventory the builders share.
type site struct {
	dc      *object.Datacenter
	folders *object.DatacenterFolders
	hosts   map[string][]*object.HostSystem // cluster name -> hosts
	pools   map[string]*object.ResourcePool // cluster name -> root pool
}

// vmPlan describes one VM of the inventory.
type vmPlan struct {
	name      string
	guestID   string
	cluster   string
	host      int
	datastore string
	diskBytes int64
	image     string // raw image copied into the flat file ("" = blank)
	random    int    // number of random 64 KiB blocks written into a blank disk
	poweredOn bool
	tools     bool
	vmx       string // hardware version
	scsi      string // controller type for object.VirtualDeviceList.CreateSCSIController
}

// buildStandard builds the standard inventory: datacenter "Lab-DC" with a
// production site (cluster "Production": 2 hosts, datastores prod-ds1/prod-ds2)
// and a DR site (cluster "DR": 1 host, datastore dr-ds1), and four VMs.
func (l *Lab) buildStandard(ctx context.Context) error {
	s, err := l.buildSite(ctx, 2)
	if err != nil {
		return err
	}
	disk := int64(l.opts.diskMiB) * mib
	small := int64(16) * mib
	img := func(name string) string {
		if l.opts.images == "" {
			return ""
		}
		return filepath.Join(l.opts.images, name+".img")
	}
	plans := []vmPlan{
		{name: "win-app01", guestID: string(types.VirtualMachineGuestOsIdentifierWindows2019srv_64Guest), cluster: "Production", host: 0,
			datastore: "prod-ds1", diskBytes: disk, image: img("win-app01"), poweredOn: true, tools: true, vmx: "vmx-15", scsi: "lsilogic-sas"},
		{name: "linux-db01", guestID: string(types.VirtualMachineGuestOsIdentifierDebian10_64Guest), cluster: "Production", host: 1,
			datastore: "prod-ds1", diskBytes: disk, image: img("linux-db01"), poweredOn: true, tools: true, vmx: "vmx-15", scsi: "pvscsi"},
		{name: "web-off01", guestID: string(types.VirtualMachineGuestOsIdentifierUbuntu64Guest), cluster: "Production", host: 0,
			datastore: "prod-ds2", diskBytes: small, random: 24, poweredOn: false, tools: false, vmx: "vmx-14", scsi: "pvscsi"},
		{name: "app-notools01", guestID: string(types.VirtualMachineGuestOsIdentifierWindows9Server64Guest), cluster: "Production", host: 1,
			datastore: "prod-ds2", diskBytes: small, random: 24, poweredOn: true, tools: false, vmx: "vmx-13", scsi: "lsilogic-sas"},
	}
	apps, err := appVMPlans() // appvms.go: -app-vm
	if err != nil {
		return err
	}
	plans = append(plans, apps...)
	if err := l.buildNetworks(ctx, s); err != nil {
		return fmt.Errorf("networks: %w", err)
	}
	nics := map[string]string{}
	if l.opts.replication { // what replication needs (hotadd.go, networks.go)
		plans = append(plans, vmPlan{name: "dr-transporter01", guestID: string(types.VirtualMachineGuestOsIdentifierDebian10_64Guest), cluster: "DR", host: 0,
			datastore: "dr-ds1", diskBytes: small, poweredOn: true, tools: true, vmx: "vmx-15", scsi: "pvscsi"})
		nics = map[string]string{"win-app01": "Prod-App", "linux-db01": "VM Network", "web-off01": "Prod-App", "app-notools01": "VM Network", "dr-transporter01": "DR-Network"}
	}
	for i := range plans {
		if err := l.createVM(ctx, s, &plans[i]); err != nil {
			return fmt.Errorf("%s: %w", plans[i].name, err)
		}
		if n := nics[plans[i].name]; n != "" {
			if err := l.addNIC(ctx, object.NewVirtualMachine(l.client, l.vmByName(plans[i].name).Ref), n); err != nil {
				return fmt.Errorf("%s NIC: %w", plans[i].name, err)
			}
		}
	}
	return nil
}

// buildLarge builds -vms VMs spread over ceil(vms/100) production hosts, for
// property-collector benchmarks. Their disks are empty files.
func (l *Lab) buildLarge(ctx context.Context) error {
	nhosts := (l.opts.vms + 99) / 100
	if nhosts < 2 {
		nhosts = 2
	}
	s, err := l.buildSite(ctx, nhosts)
	if err != nil {
		return err
	}
	guests := []string{
		string(types.VirtualMachineGuestOsIdentifierWindows2019srv_64Guest),
		string(types.VirtualMachineGuestOsIdentifierDebian10_64Guest),
		string(types.VirtualMachineGuestOsIdentifierRhel8_64Guest),
	}
	for i := 0; i < l.opts.vms; i++ {
		p := vmPlan{
			name: fmt.Sprintf("vm-%04d", i+1), guestID: guests[i%len(guests)], cluster: "Production", host: i % nhosts,
			datastore: []string{"prod-ds1", "prod-ds2"}[i%2], diskBytes: 1 * mib, poweredOn: i%10 != 9, tools: i%10 < 8,
			vmx: "vmx-15", scsi: "pvscsi",
		}
		if err := l.createVM(ctx, s, &p); err != nil {
			return fmt.Errorf("%s: %w", p.name, err)
		}
	}
	return nil
}

// buildSite creates Lab-DC with its clusters, hosts and datastores.
func (l *Lab) buildSite(ctx context.Context, prodHosts int) (*site, error) {
	root := object.NewRootFolder(l.client)
	dc, err := root.CreateDatacenter(ctx, "Lab-DC")
	if err != nil {
		return nil, err
	}
	folders, err := dc.Folders(ctx)
	if err != nil {
		return nil, err
	}
	s := &site{dc: dc, folders: folders, hosts: map[string][]*object.HostSystem{}, pools: map[string]*object.ResourcePool{}}
	clusters := []struct {
		name  string
		hosts []string
		ds    []string
	}{
		{"Production", nil, []string{"prod-ds1", "prod-ds2"}},
		{"DR", []string{"esx-dr-01.lab.local"}, []string{"dr-ds1"}},
	}
	for i := 0; i < prodHosts; i++ {
		clusters[0].hosts = append(clusters[0].hosts, fmt.Sprintf("esx-prod-%02d.lab.local", i+1))
	}
	for _, c := range clusters {
		cluster, err := folders.HostFolder.CreateCluster(ctx, c.name, types.ClusterConfigSpecEx{})
		if err != nil {
			return nil, err
		}
		for _, h := range c.hosts {
			task, err := cluster.AddHost(ctx, types.HostConnectSpec{HostName: h}, true, nil, nil)
			if err != nil {
				return nil, err
			}
			info, err := task.WaitForResult(ctx, nil)
			if err != nil {
				return nil, err
			}
			s.hosts[c.name] = append(s.hosts[c.name], object.NewHostSystem(l.client, info.Result.(types.ManagedObjectReference)))
		}
		if s.pools[c.name], err = cluster.ResourcePool(ctx); err != nil {
			return nil, err
		}
		for _, name := range c.ds {
			if err := l.createDatastore(ctx, name, s.hosts[c.name]); err != nil {
				return nil, err
			}
		}
	}
	return s, nil
}

// createDatastore creates a datastore mounted by the given hosts, stored in
// <dataDir>/datastores/<name>.
//
// vcsim names a local datastore's moref after its path; creating it with a
// relative path (from the datastores directory) keeps that "prod-ds1@folder-5"
// instead of the temp directory's absolute path. vcsim also keeps only the last
// host's mount and lists the datastore once per host in its folder; both are
// corrected so the datastore looks like one shared VMFS volume.
func (l *Lab) createDatastore(ctx context.Context, name string, hosts []*object.HostSystem) error {
	root := l.labPath("datastores")
	dir := filepath.Join(root, name)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	cwd, err := os.Getwd()
	if err != nil {
		return err
	}
	if err := os.Chdir(root); err != nil {
		return err
	}
	defer func() { _ = os.Chdir(cwd) }()
	var ref types.ManagedObjectReference
	for _, h := range hosts {
		dss, err := h.ConfigManager().DatastoreSystem(ctx)
		if err != nil {
			return err
		}
		ds, err := dss.CreateLocalDatastore(ctx, name, name)
		if err != nil {
			return err
		}
		ref = ds.Reference()
	}
	ds := simulator.Map.Get(ref).(*simulator.Datastore)
	simulator.Map.WithLock(ds, func() {
		ds.Info.GetDatastoreInfo().Url = dir
		ds.Summary.Url = dir
		ds.Host = nil
		for _, h := range hosts {
			ds.Host = append(ds.Host, types.DatastoreHostMount{Key: h.Reference(), MountInfo: types.HostMountInfo{
				Path: "/vmfs/volumes/" + name, AccessMode: string(types.HostMountModeReadWrite),
				Mounted: types.NewBool(true), Accessible: types.NewBool(true)}})
		}
	})
	folder := simulator.Map.Get(*ds.Parent).(*simulator.Folder)
	simulator.Map.WithLock(folder, func() {
		var children []types.ManagedObjectReference
		for _, c := range folder.ChildEntity {
			if simulator.FindReference(children, c) == nil {
				children = append(children, c)
			}
		}
		folder.ChildEntity = children
	})
	return nil
}

// createVM writes the VM's disk files into its datastore folder, then creates
// the VM with CreateVM_Task pointing at the existing disk (fileOperation unset,
// as when a disk is attached rather than created), powers it on and sets the
// VMware Tools state.
//
// The files are written by Go straight into the datastore's directory rather
// than with an HTTP PUT to /folder/...: vcsim's PUT handler does nothing but
// create that same file and copy the body into it, and a direct sparse copy
// keeps 4 GiB images fast and sparse.
func (l *Lab) createVM(ctx context.Context, s *site, p *vmPlan) error {
	dsDir := l.labPath("datastores", p.datastore)
	vmDir := filepath.Join(dsDir, p.name)
	if err := os.MkdirAll(vmDir, 0o755); err != nil {
		return err
	}
	flat := filepath.Join(vmDir, p.name+"-flat.vmdk")
	size := p.diskBytes
	if p.image != "" {
		n, err := sparseCopy(p.image, flat)
		if err != nil {
			return err
		}
		size = n
	} else if err := blankDisk(flat, size, p.random, p.name); err != nil {
		return err
	}
	descriptor := filepath.Join(vmDir, p.name+".vmdk")
	if err := os.WriteFile(descriptor, []byte(diskDescriptor(p.name, size, strings.TrimPrefix(p.vmx, "vmx-"), p.scsi)), 0o644); err != nil {
		return err
	}

	fileName := fmt.Sprintf("[%s] %s/%s.vmdk", p.datastore, p.name, p.name)
	var devices object.VirtualDeviceList
	scsi, err := devices.CreateSCSIController(p.scsi)
	if err != nil {
		return err
	}
	scsi.GetVirtualDevice().Key = 1000 // the keys vSphere gives SCSI controller 0 and its first disk
	devices = append(devices, scsi)
	disk := devices.CreateDisk(scsi.(types.BaseVirtualController), types.ManagedObjectReference{}, fileName)
	disk.Key, disk.ControllerKey, disk.UnitNumber = 2000, 1000, types.NewInt32(0)
	disk.CapacityInBytes = size
	disk.CapacityInKB = size / 1024
	backing := disk.Backing.(*types.VirtualDiskFlatVer2BackingInfo)
	backing.ThinProvisioned = types.NewBool(true)
	backing.Uuid = diskUUID(p.name)
	devices = append(devices, disk)
	change, err := devices.ConfigSpec(types.VirtualDeviceConfigSpecOperationAdd)
	if err != nil {
		return err
	}
	for _, c := range change {
		if s := c.GetVirtualDeviceConfigSpec(); s.Device == disk {
			s.FileOperation = "" // attach the existing disk files
		}
	}

	spec := types.VirtualMachineConfigSpec{
		Name:         p.name,
		GuestId:      p.guestID,
		NumCPUs:      2,
		MemoryMB:     4096,
		Version:      p.vmx,
		Files:        &types.VirtualMachineFileInfo{VmPathName: fmt.Sprintf("[%s] %s/%s.vmx", p.datastore, p.name, p.name)},
		DeviceChange: change,
	}
	host := s.hosts[p.cluster][p.host]
	task, err := s.folders.VmFolder.CreateVM(ctx, spec, s.pools[p.cluster], host)
	if err != nil {
		return err
	}
	info, err := task.WaitForResult(ctx, nil)
	if err != nil {
		return err
	}
	ref := info.Result.(types.ManagedObjectReference)
	vm := object.NewVirtualMachine(l.client, ref)
	if p.poweredOn {
		task, err := vm.PowerOn(ctx)
		if err != nil {
			return err
		}
		if err := task.Wait(ctx); err != nil {
			return err
		}
	}

	sim := simVM(ref)
	rec := &labVM{Name: p.name, Ref: ref, Datastore: p.datastore, Dir: p.name, Windows: strings.HasPrefix(p.guestID, "win"), Tools: p.tools}
	for _, d := range object.VirtualDeviceList(sim.Config.Hardware.Device).SelectByType((*types.VirtualDisk)(nil)) {
		vd := d.(*types.VirtualDisk)
		rec.Disks = append(rec.Disks, newLabDisk(vd.Key, fileName, descriptor, flat, size, *vd.Backing.(*types.VirtualDiskFlatVer2BackingInfo)))
	}
	l.addVM(rec)
	simulator.Map.WithLock(sim, func() {
		setGuestState(sim, p.tools && p.poweredOn, p.name)
		simulator.Map.Update(sim, []types.PropertyChange{{Name: "runtime.consolidationNeeded", Val: false}})
	})
	return nil
}

// guestFullNames are vSphere's GuestOsDescriptor names for the guest ids the
// lab uses; vCenter fills config.guestFullName from them (vcsim copies the id).
var guestFullNames = map[string]string{
	string(types.VirtualMachineGuestOsIdentifierWindows2019srv_64Guest): "Microsoft Windows Server 2019 (64-bit)",
	string(types.VirtualMachineGuestOsIdentifierWindows9Server64Guest):  "Microsoft Windows Server 2016 or later (64-bit)",
	string(types.VirtualMachineGuestOsIdentifierDebian10_64Guest):       "Debian GNU/Linux 10 (64-bit)",
	string(types.VirtualMachineGuestOsIdentifierUbuntu64Guest):          "Ubuntu Linux (64-bit)",
}

// setGuestState sets what VMware Tools reports for a VM: with Tools running,
// the guest's state, host name and IP address; otherwise "toolsNotRunning".
// Caller holds the VM's lock.
func setGuestState(vm *simulator.VirtualMachine, running bool, hostname string) {
	if full, ok := guestFullNames[vm.Config.GuestId]; ok {
		vm.Config.GuestFullName = full
		vm.Summary.Config.GuestFullName = full
	}
	changes := []types.PropertyChange{
		{Name: "guest.toolsVersion", Val: "11365"},
		{Name: "guest.toolsVersionStatus2", Val: string(types.VirtualMachineToolsVersionStatusGuestToolsCurrent)},
		{Name: "guest.guestId", Val: vm.Config.GuestId},
		{Name: "guest.guestFullName", Val: vm.Config.GuestFullName},
	}
	if running {
		changes = append(changes,
			types.PropertyChange{Name: "guest.toolsRunningStatus", Val: string(types.VirtualMachineToolsRunningStatusGuestToolsRunning)},
			types.PropertyChange{Name: "guest.toolsStatus", Val: types.VirtualMachineToolsStatusToolsOk},
			types.PropertyChange{Name: "guest.guestState", Val: "running"},
			types.PropertyChange{Name: "guest.guestOperationsReady", Val: true},
			types.PropertyChange{Name: "guest.interactiveGuestOperationsReady", Val: false},
			types.PropertyChange{Name: "guest.hostName", Val: hostname},
			types.PropertyChange{Name: "guest.ipAddress", Val: guestIP(hostname)},
			types.PropertyChange{Name: "summary.guest.toolsStatus", Val: types.VirtualMachineToolsStatusToolsOk},
			types.PropertyChange{Name: "summary.guest.toolsRunningStatus", Val: string(types.VirtualMachineToolsRunningStatusGuestToolsRunning)},
			types.PropertyChange{Name: "summary.guest.hostName", Val: hostname},
			types.PropertyChange{Name: "summary.guest.ipAddress", Val: guestIP(hostname)},
			types.PropertyChange{Name: "summary.quickStats.guestHeartbeatStatus", Val: types.ManagedEntityStatusGreen},
			types.PropertyChange{Name: "guestHeartbeatStatus", Val: types.ManagedEntityStatusGreen},
		)
	} else {
		changes = append(changes,
			types.PropertyChange{Name: "guest.toolsRunningStatus", Val: string(types.VirtualMachineToolsRunningStatusGuestToolsNotRunning)},
			types.PropertyChange{Name: "guest.toolsStatus", Val: types.VirtualMachineToolsStatusToolsNotRunning},
			types.PropertyChange{Name: "guest.guestState", Val: "notRunning"},
			types.PropertyChange{Name: "guest.guestOperationsReady", Val: false},
			types.PropertyChange{Name: "guest.interactiveGuestOperationsReady", Val: false},
			types.PropertyChange{Name: "guest.ipAddress", Val: ""},
			types.PropertyChange{Name: "summary.guest.toolsStatus", Val: types.VirtualMachineToolsStatusToolsNotRunning},
			types.PropertyChange{Name: "summary.guest.toolsRunningStatus", Val: string(types.VirtualMachineToolsRunningStatusGuestToolsNotRunning)},
			types.PropertyChange{Name: "summary.guest.ipAddress", Val: ""},
			types.PropertyChange{Name: "summary.quickStats.guestHeartbeatStatus", Val: types.ManagedEntityStatusGray},
			types.PropertyChange{Name: "guestHeartbeatStatus", Val: types.ManagedEntityStatusGray},
		)
	}
	simulator.Map.Update(vm, changes)
}

// toolsRunning reports whether VMware Tools runs in the VM (caller may hold its lock).
func toolsRunning(vm *simulator.VirtualMachine) bool {
	return vm.Runtime.PowerState == types.VirtualMachinePowerStatePoweredOn &&
		vm.Guest != nil && vm.Guest.ToolsRunningStatus == string(types.VirtualMachineToolsRunningStatusGuestToolsRunning)
}

func guestIP(name string) string {
	h := 0
	for _, c := range name {
		h = h*31 + int(c)
	}
	return fmt.Sprintf("10.20.%d.%d", 1+(h>>8)%200, 10+h%200)
}

// diskDescriptor is the text of a monolithic-flat VMFS disk descriptor as ESXi writes it.
func diskDescriptor(name string, size int64, hwVersion, adapter string) string {
	sectors := size / 512
	cylinders := sectors / (255 * 63)
	if cylinders > 65535 {
		cylinders = 65535
	}
	adapterType := "lsilogic"
	if adapter == "pvscsi" {
		adapterType = "pvscsi"
	}
	return fmt.Sprintf(`# Disk DescriptorFile
version=1
encoding="UTF-8"
CID=%08x
parentCID=ffffffff
createType="vmfs"

# Extent description
RW %d VMFS "%s-flat.vmdk"

# The Disk Data Base
#DDB

ddb.adapterType = "%s"
ddb.geometry.cylinders = "%d"
ddb.geometry.heads = "255"
ddb.geometry.sectors = "63"
ddb.longContentID = "%s"
ddb.thinProvisioned = "1"
ddb.uuid = "%s"
ddb.virtualHWVersion = "%s"
`, rand.New(rand.NewSource(int64(len(name)))).Uint32(), sectors, name, adapterType, cylinders, randomHex(16), diskUUIDDDB(name), hwVersion)
}

// diskUUID is a backing uuid of a lab disk in vSphere's notation ("6000C29x-xxxx-...").
func diskUUID(name string) string {
	u := "6000C29" + strings.ToUpper(hex.EncodeToString(nameBytes(name)))[7:]
	return u[0:8] + "-" + u[8:12] + "-" + u[12:16] + "-" + u[16:20] + "-" + u[20:32]
}

func diskUUIDDDB(name string) string {
	b := nameBytes(name)
	parts := make([]string, 16)
	for i := range parts {
		parts[i] = fmt.Sprintf("%02x", b[i])
	}
	return strings.Join(parts[:8], " ") + "-" + strings.Join(parts[8:], " ")
}

func nameBytes(name string) []byte {
	r := rand.New(rand.NewSource(time.Now().UnixNano() ^ int64(len(name))))
	b := make([]byte, 16)
	r.Read(b)
	return b
}
