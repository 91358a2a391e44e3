package main

import (
	"context"
	"reflect"
	"sync"
	"time"

	"github.com/google/uuid"
	"github.com/vmware/govmomi/session"
	"github.com/vmware/govmomi/simulator"
	"github.com/vmware/govmomi/vim25/methods"
	"github.com/vmware/govmomi/vim25/soap"
	"github.com/vmware/govmomi/vim25/types"
)

// Per-user permissions: a restricted user next to the administrator.
//
// vCenter: what a session may see and do follows its user's permissions (a
// role, i.e. a set of privileges, granted on an inventory object and
// propagating to its children; a VM's snapshots go with the VM).
//   - The PropertyCollector (RetrieveProperties, RetrievePropertiesEx,
//     ContinueRetrievePropertiesEx, WaitForUpdates(Ex)) silently leaves out
//     objects the user may not read (System.Read), also when it reaches them
//     by traversal, e.g. through a ContainerView. Container views and
//     reference lists (ContainerView.view, Folder.childEntity, HostSystem.vm,
//     Datastore.vm, …) hold only objects the user can see.
//   - A call on such an object, or one that names it as an argument (guest
//     operations' vm, an ObjectSpec's obj, …), is refused before anything
//     happens (no task is created) with the SOAP fault NoPermission
//     ("Permission to perform this operation was denied."), naming the object
//     and the privilege the call needs, e.g. VirtualMachine.State.CreateSnapshot
//     for CreateSnapshot_Task.
//   - SearchIndex finds nothing the user cannot see.
//   - Datastore file access over HTTP (/folder) needs Datastore.Browse /
//     Datastore.FileManagement on the datastore.
//   - Sessions cloned from a session (AcquireCloneTicket + CloneSession, as
//     the vSphere Client does for a remote plugin) belong to the same user and
//     have exactly its permissions.
//
// vcsim 0.24.2 knows one user and no permissions. Lab: a second user
// (-restricted-username/-restricted-password, default
// operator@vsphere.local / Operator-Pass-1!) holds a role on the VMs named by
// -restricted-vms (default win-app01 and linux-db01) and, for the privileges
// AuthorizationManager reports, roles on some infrastructure objects
// (authorization.go): visibility below follows the VM list only. The set is fixed when the inventory is built: VMs created
// later (e.g. a restore to a new VM by the service account) are hidden from
// the restricted user, as they would be on vCenter without a permission on
// their folder. What the lab enforces for sessions of that user:
//   - the PropertyCollector filtering above (objects left out, reference lists
//     filtered; single reference properties such as Task.info.entity are left
//     as they are);
//   - NoPermission for any call whose _this or arguments name a hidden VM or
//     a snapshot of one;
//   - SearchIndex.FindByUuid finds no hidden VM;
//   - datastore HTTP is 403 Forbidden (the user has no datastore privileges),
//     with the session cookie or a service ticket that session acquired.
//
// Not modelled: hosts, clusters, datastores, networks and folders stay
// visible (vCenter would show only the VMs' ancestors); TaskManager,
// EventManager/EventHistoryCollector and the other SearchIndex methods are
// not filtered. AuthorizationManager's HasPrivilegeOnEntities,
// HasPrivilegeOnEntity and FetchUserPrivilegeOnEntities answer the restricted
// user's privileges per entity (authorization.go), but calls are refused only
// for hidden objects, not for a missing privilege.

// permissionDenied is vCenter's faultstring for NoPermission.
const permissionDenied = "Permission to perform this operation was denied."

// privilegeFor names the privilege vCenter reports for a refused call.
// Calls not listed report System.Read (the object cannot even be read).
var privilegeFor = map[string]string{
	"CreateSnapshot_Task":             "VirtualMachine.State.CreateSnapshot",
	"CreateSnapshotEx_Task":           "VirtualMachine.State.CreateSnapshot",
	"RemoveSnapshot_Task":             "VirtualMachine.State.RemoveSnapshot",
	"RemoveAllSnapshots_Task":         "VirtualMachine.State.RemoveSnapshot",
	"RevertToSnapshot_Task":           "VirtualMachine.State.RevertToSnapshot",
	"RevertToCurrentSnapshot_Task":    "VirtualMachine.State.RevertToSnapshot",
	"PowerOnVM_Task":                  "VirtualMachine.Interact.PowerOn",
	"PowerOffVM_Task":                 "VirtualMachine.Interact.PowerOff",
	"ShutdownGuest":                   "VirtualMachine.Interact.PowerOff",
	"SuspendVM_Task":                  "VirtualMachine.Interact.Suspend",
	"Destroy_Task":                    "VirtualMachine.Inventory.Delete",
	"UnregisterVM":                    "VirtualMachine.Inventory.Unregister",
	"ReconfigVM_Task":                 "VirtualMachine.Config.Settings",
	"QueryChangedDiskAreas":           "VirtualMachine.Provisioning.DiskRandomRead",
	"CloneVM_Task":                    "VirtualMachine.Provisioning.Clone",
	"StartProgramInGuest":             "VirtualMachine.GuestOperations.Execute",
	"ListProcessesInGuest":            "VirtualMachine.GuestOperations.Query",
	"InitiateFileTransferToGuest":     "VirtualMachine.GuestOperations.Modify",
	"InitiateFileTransferFromGuest":   "VirtualMachine.GuestOperations.Query",
	"DeleteFileInGuest":               "VirtualMachine.GuestOperations.Modify",
	"MakeDirectoryInGuest":            "VirtualMachine.GuestOperations.Modify",
	"ChangeFileAttributesInGuest":     "VirtualMachine.GuestOperations.Modify",
	"ListFilesInGuest":                "VirtualMachine.GuestOperations.Query",
	"CreateTemporaryFileInGuest":      "VirtualMachine.GuestOperations.Modify",
	"CreateTemporaryDirectoryInGuest": "VirtualMachine.GuestOperations.Modify",
}

// permissionFiltered are the PropertyCollector methods whose results the lab
// filters for the restricted user (RetrievePropertiesEx and
// ContinueRetrievePropertiesEx always go through the lab for paging).
var permissionFiltered = map[string]bool{"RetrieveProperties": true, "WaitForUpdatesEx": true, "WaitForUpdates": true}

// permissions holds what the restricted user may see.
type permissions struct {
	mu      sync.Mutex
	allowed map[string]bool // VM moref values the restricted user holds a role on
	tickets map[string]bool // generic service tickets acquired by restricted sessions
}

// grantRestricted gives the restricted user its role on the VMs named by
// -restricted-vms that exist in the inventory.
// Its privileges per entity (roles and permissions in vcsim's
// AuthorizationManager) are set up by setupAuthorization (authorization.go).
func (l *Lab) grantRestricted() {
	l.perms.mu.Lock()
	l.perms.allowed = map[string]bool{}
	for _, name := range l.opts.restrictedVMs {
		if v := l.vmByName(name); v != nil {
			l.perms.allowed[v.Ref.Value] = true
		}
	}
	l.perms.mu.Unlock()
	l.setupAuthorization()
}

// restrictedVMNames lists the VMs the restricted user can see, by name.
func (l *Lab) restrictedVMNames() []string {
	out := []string{}
	for _, name := range l.opts.restrictedVMs {
		if v := l.vmByName(name); v != nil && l.perms.vmAllowed(v.Ref.Value) {
			out = append(out, name)
		}
	}
	return out
}

func (p *permissions) vmAllowed(value string) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.allowed[value]
}

// hidden reports whether the restricted user cannot see ref: a VM it has no
// role on, or a snapshot of such a VM.
func (l *Lab) hidden(ref types.ManagedObjectReference) bool {
	switch ref.Type {
	case "VirtualMachine":
		return !l.perms.vmAllowed(ref.Value)
	case "VirtualMachineSnapshot":
		if snap, ok := simulator.Map.Get(ref).(*simulator.VirtualMachineSnapshot); ok {
			return !l.perms.vmAllowed(snap.Vm.Value)
		}
	}
	return false
}

// restrictedCtx reports whether a call runs in a session of the restricted user.
func (l *Lab) restrictedCtx(ctx *simulator.Context) bool {
	return ctx != nil && ctx.Session != nil && ctx.Session.UserName == l.opts.restrictedUser
}

// sessionUser returns the user of a live session ("" if none), asking vcsim's
// SessionManager (SessionIsActive) for each of the lab's users.
func (l *Lab) sessionUser(id string) string {
	if id == "" {
		return ""
	}
	ctx := &simulator.Context{Context: context.Background(), Map: simulator.Map}
	for _, user := range []string{l.opts.username, l.opts.restrictedUser} {
		res := simulator.Map.SessionManager().SessionIsActive(ctx, &types.SessionIsActive{SessionID: id, UserName: user})
		if b, ok := res.(*methods.SessionIsActiveBody); ok && b.Res != nil && b.Res.Returnval {
			return user
		}
	}
	return ""
}

// hiddenArgument finds the first reference in a request (its _this included)
// that the restricted user cannot see.
func (l *Lab) hiddenArgument(body interface{}) (types.ManagedObjectReference, bool) {
	refType := reflect.TypeOf(types.ManagedObjectReference{})
	var found *types.ManagedObjectReference
	var walk func(v reflect.Value, depth int)
	walk = func(v reflect.Value, depth int) {
		if found != nil || depth > 32 || !v.IsValid() {
			return
		}
		switch v.Kind() {
		case reflect.Ptr, reflect.Interface:
			if !v.IsNil() {
				walk(v.Elem(), depth+1)
			}
		case reflect.Struct:
			if v.Type() == refType {
				if r := v.Interface().(types.ManagedObjectReference); l.hidden(r) {
					found = &r
				}
				return
			}
			for i := 0; i < v.NumField(); i++ {
				if v.Type().Field(i).PkgPath == "" { // exported
					walk(v.Field(i), depth+1)
				}
			}
		case reflect.Slice, reflect.Array:
			for i := 0; i < v.Len(); i++ {
				walk(v.Index(i), depth+1)
			}
		}
	}
	walk(reflect.ValueOf(body), 0)
	if found == nil {
		return types.ManagedObjectReference{}, false
	}
	return *found, true
}

// noPermission is the fault for a call on (or naming) a hidden object.
func noPermission(method string, obj types.ManagedObjectReference) *types.NoPermission {
	priv := privilegeFor[method]
	if priv == "" {
		priv = "System.Read"
	}
	return &types.NoPermission{Object: obj, PrivilegeId: priv}
}

// filterRefs drops hidden objects from a reference list property value.
func (l *Lab) filterRefs(v types.AnyType) types.AnyType {
	keep := func(refs []types.ManagedObjectReference) []types.ManagedObjectReference {
		out := make([]types.ManagedObjectReference, 0, len(refs))
		for _, r := range refs {
			if !l.hidden(r) {
				out = append(out, r)
			}
		}
		return out
	}
	switch x := v.(type) {
	case *types.ArrayOfManagedObjectReference: // what vcsim's PropertyCollector returns
		if x == nil {
			return v
		}
		return &types.ArrayOfManagedObjectReference{ManagedObjectReference: keep(x.ManagedObjectReference)}
	case types.ArrayOfManagedObjectReference:
		return types.ArrayOfManagedObjectReference{ManagedObjectReference: keep(x.ManagedObjectReference)}
	case []types.ManagedObjectReference:
		return keep(x)
	}
	return v
}

// filterContents drops hidden objects from a retrieval result and hidden
// references from its property values.
func (l *Lab) filterContents(objs []types.ObjectContent) []types.ObjectContent {
	out := make([]types.ObjectContent, 0, len(objs))
	for _, oc := range objs {
		if l.hidden(oc.Obj) {
			continue
		}
		props := make([]types.DynamicProperty, len(oc.PropSet))
		for i, p := range oc.PropSet {
			p.Val = l.filterRefs(p.Val)
			props[i] = p
		}
		oc.PropSet = props
		out = append(out, oc)
	}
	return out
}

// filterUpdates does the same for a WaitForUpdates(Ex) update set.
func (l *Lab) filterUpdates(set *types.UpdateSet) {
	if set == nil {
		return
	}
	filters := set.FilterSet[:0:0]
	for _, fu := range set.FilterSet {
		objs := make([]types.ObjectUpdate, 0, len(fu.ObjectSet))
		for _, ou := range fu.ObjectSet {
			if l.hidden(ou.Obj) {
				continue
			}
			changes := make([]types.PropertyChange, len(ou.ChangeSet))
			for i, c := range ou.ChangeSet {
				c.Val = l.filterRefs(c.Val)
				changes[i] = c
			}
			ou.ChangeSet = changes
			objs = append(objs, ou)
		}
		missing := fu.MissingSet[:0:0]
		for _, m := range fu.MissingSet {
			if !l.hidden(m.Obj) {
				missing = append(missing, m)
			}
		}
		if len(objs) == 0 && len(missing) == 0 {
			continue
		}
		fu.ObjectSet, fu.MissingSet = objs, missing
		filters = append(filters, fu)
	}
	set.FilterSet = filters
}

// Lock and Unlock opt the PropertyCollector overlay out of vcsim's per-object
// locking, as vcsim's own PropertyCollector (nopLocker) is: WaitForUpdatesEx
// blocks, and one overlay object serves every session's default collector.
func (o *LabPropertyCollector) Lock()   {}
func (o *LabPropertyCollector) Unlock() {}

// RetrieveProperties is vcsim's, filtered for the restricted user.
func (o *LabPropertyCollector) RetrieveProperties(ctx *simulator.Context, req *types.RetrieveProperties) soap.HasFault {
	pc := o.collector(ctx)
	if pc == nil {
		return &methods.RetrievePropertiesBody{Fault_: o.gone()}
	}
	r := *req
	r.This = pc.Self
	res := pc.RetrieveProperties(ctx, &r)
	if b, ok := res.(*methods.RetrievePropertiesBody); ok && b.Res != nil && o.lab.restrictedCtx(ctx) {
		b.Res.Returnval = o.lab.filterContents(b.Res.Returnval)
	}
	return res
}

// WaitForUpdatesEx is vcsim's, filtered for the restricted user.
func (o *LabPropertyCollector) WaitForUpdatesEx(ctx *simulator.Context, req *types.WaitForUpdatesEx) soap.HasFault {
	pc := o.collector(ctx)
	if pc == nil {
		return &methods.WaitForUpdatesExBody{Fault_: o.gone()}
	}
	r := *req
	r.This = pc.Self
	res := pc.WaitForUpdatesEx(ctx, &r)
	if b, ok := res.(*methods.WaitForUpdatesExBody); ok && b.Res != nil && o.lab.restrictedCtx(ctx) {
		o.lab.filterUpdates(b.Res.Returnval)
	}
	return res
}

// WaitForUpdates (deprecated) is vcsim's, filtered for the restricted user.
func (o *LabPropertyCollector) WaitForUpdates(ctx *simulator.Context, req *types.WaitForUpdates) soap.HasFault {
	pc := o.collector(ctx)
	if pc == nil {
		return &methods.WaitForUpdatesBody{Fault_: o.gone()}
	}
	r := *req
	r.This = pc.Self
	res := pc.WaitForUpdates(ctx, &r)
	if b, ok := res.(*methods.WaitForUpdatesBody); ok && b.Res != nil && o.lab.restrictedCtx(ctx) {
		o.lab.filterUpdates(&b.Res.Returnval)
	}
	return res
}

// Login accepts the restricted user (vcsim's Login knows only the
// administrator, which still goes to vcsim). Like vcsim, a session that is
// already logged in cannot log in again.
func (o *LabSessionManager) Login(ctx *simulator.Context, req *types.Login) soap.HasFault {
	body := &methods.LoginBody{}
	if ctx.Session != nil || req.UserName != o.lab.opts.restrictedUser || req.Password != o.lab.opts.restrictedPass {
		body.Fault_ = simulator.Fault("Cannot complete login due to an incorrect user name or password.", &types.InvalidLogin{})
		return body
	}
	locale := req.Locale
	if locale == "" {
		locale = session.Locale
	}
	now := time.Now().UTC()
	s := simulator.Session{
		UserSession: types.UserSession{
			Key: uuid.New().String(), UserName: req.UserName, FullName: "Backup Operator",
			LoginTime: now, LastActiveTime: now, Locale: locale, MessageLocale: locale,
			ExtensionSession: types.NewBool(false),
		},
		Registry: simulator.NewRegistry(),
	}
	ctx.SetSession(s, true)
	body.Res = &types.LoginResponse{Returnval: ctx.Session.UserSession}
	return body
}
