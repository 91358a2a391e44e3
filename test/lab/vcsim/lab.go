package main

import (
	"crypto/rand"
	"encoding/hex"
	"net/url"
	"sync"

	"github.com/vmware/govmomi/simulator"
	"github.com/vmware/govmomi/vim25"
	"github.com/vmware/govmomi/vim25/types"
)

// Lab holds the lab's own state next to vcsim's object registry (simulator.Map).
type Lab struct {
	opts      options
	client    *vim25.Client // in-process client used while building the inventory
	serverURL *url.URL
	certPEM   string

	// controlToken must accompany every /lab request (header x-lab-token), so only
	// whoever started the lab (and read its JSON line) can drive it.
	controlToken string

	mu   sync.Mutex
	vms  map[string]*labVM // by name
	byID map[string]*labVM // by moref value

	faults   faultBook
	sessions sessionBook
	guest    guestState
	ui       uiSessions
	perms    permissions // what the restricted user may see (permissions.go)
	hotadd   hotAdds     // disks of other VMs attached to helpers (hotadd.go)
}

// labVM is what the lab knows about a VM beyond vcsim's object.
type labVM struct {
	Name      string
	Ref       types.ManagedObjectReference
	Datastore string // datastore of the VM's home folder
	Dir       string // folder inside the datastore
	Windows   bool
	Tools     bool // VMware Tools installed: running whenever the VM is powered on
	Disks     []*labDisk
}

// labDisk is one virtual disk: its vSphere names and the flat file on the lab's disk.
type labDisk struct {
	Key            int32
	FileName       string // "[prod-ds1] win-app01/win-app01.vmdk"
	DescriptorPath string
	FlatPath       string
	Capacity       int64
	cbt            *cbtDisk  // nil until CBT starts tracking this disk
	scan           *baseScan // fingerprints of the base file between epochs (writelog.go)

	template types.VirtualDiskFlatVer2BackingInfo // the backing as created (chains.go builds on it)
	current  *diskFile                            // the file the guest writes to (top of the chain)
	files    []*diskFile                          // every file of the disk that still exists
	deltas   int                                  // delta files created so far (for their names)
}

// newLabDisk records a disk whose only file is its flat file.
func newLabDisk(key int32, fileName, descriptor, flat string, capacity int64, backing types.VirtualDiskFlatVer2BackingInfo) *labDisk {
	base := &diskFile{name: fileName, descriptor: descriptor, data: flat}
	backing.Parent = nil
	backing.ChangeId = ""
	return &labDisk{Key: key, FileName: fileName, DescriptorPath: descriptor, FlatPath: flat, Capacity: capacity,
		template: backing, current: base, files: []*diskFile{base}}
}

func newLab(o options, c *vim25.Client) *Lab {
	l := &Lab{
		opts:         o,
		client:       c,
		controlToken: randomHex(16),
		vms:          map[string]*labVM{},
		byID:         map[string]*labVM{},
	}
	l.guest.init()
	return l
}

// vmByRef returns the lab record of a VM moref (nil if unknown or destroyed).
func (l *Lab) vmByRef(ref types.ManagedObjectReference) *labVM {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.live(l.byID[ref.Value])
}

// vmByName returns the lab record of a VM by name (nil if unknown or destroyed).
func (l *Lab) vmByName(name string) *labVM {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.live(l.vms[name])
}

// live returns v, or nil after forgetting it if its VM no longer exists in
// vcsim (Destroy_Task, UnregisterVM): the lab's code locks and reads the vcsim
// object of every record it uses. Caller holds l.mu.
func (l *Lab) live(v *labVM) *labVM {
	if v == nil || simVM(v.Ref) != nil {
		return v
	}
	if l.vms[v.Name] == v {
		delete(l.vms, v.Name)
	}
	if l.byID[v.Ref.Value] == v {
		delete(l.byID, v.Ref.Value)
	}
	return nil
}

// records returns the lab's VM records that are still in vcsim (forgetting destroyed ones), a snapshot
// taken under l.mu that callers walk without it (they lock each vcsim object instead).
func (l *Lab) records() []*labVM {
	l.mu.Lock()
	defer l.mu.Unlock()
	recs := make([]*labVM, 0, len(l.byID))
	for _, v := range l.byID {
		if l.live(v) != nil {
			recs = append(recs, v)
		}
	}
	return recs
}

func (l *Lab) addVM(v *labVM) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.vms[v.Name] = v
	l.byID[v.Ref.Value] = v
}

// simVM returns vcsim's object for a VM moref.
func simVM(ref types.ManagedObjectReference) *simulator.VirtualMachine {
	vm, _ := simulator.Map.Get(ref).(*simulator.VirtualMachine)
	return vm
}

// registerObjects puts the lab's managed objects into vcsim's registry: the ones
// vcsim 0.24.2 lacks entirely (ExtensionManager) or implements as no-ops
// (GuestProcessManager, GuestFileManager) are replaced by lab types, exactly as
// govmomi's simulator/example_extend_test.go does with simulator.Map.Put.
func (l *Lab) registerObjects() {
	content := l.client.ServiceContent
	simulator.Map.Put(newExtensionManager(*content.ExtensionManager))
	simulator.Map.Put(newAlarmManager(*content.AlarmManager))
	presentAsCurrentVcenter(l)
	gom := simulator.Map.Get(*content.GuestOperationsManager).(*simulator.GuestOperationsManager)
	pm := &GuestProcessManager{lab: l}
	pm.Self = *gom.ProcessManager
	simulator.Map.Put(pm)
	fm := &GuestFileManager{lab: l}
	fm.Self = *gom.FileManager
	simulator.Map.Put(fm)
}

func (l *Lab) close() {
	l.ui.logoutAll()
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
