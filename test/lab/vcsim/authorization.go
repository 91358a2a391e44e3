package main

import (
	"strings"

	"github.com/vmware/govmomi/simulator"
	"github.com/vmware/govmomi/vim25/methods"
	"github.com/vmware/govmomi/vim25/mo"
	"github.com/vmware/govmomi/vim25/soap"
	"github.com/vmware/govmomi/vim25/types"
)

// Privileges per entity for the restricted user (see "Users and permissions"
// in test/lab/README.md).
//
// vCenter: a permission gives a principal a role (a set of privileges) on an
// entity, optionally propagating to the entity's descendants. A user's
// privileges on an entity come from the nearest permission for that user: one
// on the entity itself, else the closest ancestor's propagating one (a
// permission lower in the tree overrides those above it). Every role carries
// System.Anonymous, System.View and System.Read. AuthorizationManager answers
// what a session may do: HasPrivilegeOnEntities(entity[], sessionId, privId[])
// and HasPrivilegeOnEntity for a session (the caller's own session key needs
// no extra privilege), FetchUserPrivilegeOnEntities(entities, userName) for a
// user. Permissions are set with SetEntityPermissions/RemoveEntityPermission.
//
// vcsim 0.24.2 stores permissions (Set/Remove/RetrieveEntityPermissions) but
// answers every Has*/Fetch* call with "granted" (Admin) for everyone. Lab: the
// overlay LabAuthorizationManager answers those three methods from the stored
// permissions for the restricted user; every other user keeps vcsim's answer
// (the administrator holds Admin on the root folder). Not modelled: groups;
// a VM inherits only along its parent (folder) chain, not from its resource
// pool; calls are not refused for lack of a privilege (only hidden objects are,
// see permissions.go), so privileges matter to clients that ask for them.

// labRole is a role the lab adds for the restricted user's permissions.
type labRole struct {
	name  string
	privs []string
}

// vmOperatorPrivs is what the restricted user may do on its VMs: back up and
// restore over them, and run guest operations.
var vmOperatorPrivs = []string{
	"VirtualMachine.State.CreateSnapshot", "VirtualMachine.State.RemoveSnapshot", "VirtualMachine.State.RevertToSnapshot",
	"VirtualMachine.State.RenameSnapshot",
	"VirtualMachine.Provisioning.DiskRandomRead", "VirtualMachine.Provisioning.DiskRandomAccess", "VirtualMachine.Provisioning.GetVmFiles",
	"VirtualMachine.Config.ChangeTracking", "VirtualMachine.Config.AddRemoveDevice", "VirtualMachine.Config.EditDevice",
	"VirtualMachine.Config.AddNewDisk", "VirtualMachine.Config.RemoveDisk", "VirtualMachine.Config.Settings",
	"VirtualMachine.Interact.PowerOn", "VirtualMachine.Interact.PowerOff", "VirtualMachine.Interact.Backup",
	"VirtualMachine.GuestOperations.Query", "VirtualMachine.GuestOperations.Modify", "VirtualMachine.GuestOperations.Execute",
}

const (
	roleVMOperator        = "Lab VM backup operator"
	roleVMOperatorNoGuest = "Lab VM backup operator without guest execution"
	roleDatastoreConsumer = "Lab datastore consumer"
	rolePoolConsumer      = "Lab resource pool consumer"
	roleVMCreator         = "Lab VM creator"
	roleNetworkConsumer   = "Lab network consumer"
	roleReadOnly          = "ReadOnly" // vcsim's built-in
)

var labRoles = []labRole{
	{roleVMOperator, vmOperatorPrivs},
	{roleVMOperatorNoGuest, without(vmOperatorPrivs, "VirtualMachine.GuestOperations.Execute", "VirtualMachine.GuestOperations.Modify")},
	{roleDatastoreConsumer, []string{"Datastore.AllocateSpace"}},
	{rolePoolConsumer, []string{"Resource.AssignVMToPool"}},
	{roleVMCreator, []string{"VirtualMachine.Inventory.Create", "VirtualMachine.Config.AddNewDisk", "VirtualMachine.Interact.PowerOn", "Network.Assign"}},
	{roleNetworkConsumer, []string{"Network.Assign"}},
}

func without(list []string, drop ...string) []string {
	out := []string{}
	for _, p := range list {
		keep := true
		for _, d := range drop {
			keep = keep && p != d
		}
		if keep {
			out = append(out, p)
		}
	}
	return out
}

func init() {
	overlays["AuthorizationManager"] = map[string]bool{
		"HasPrivilegeOnEntities": true, "HasPrivilegeOnEntity": true, "FetchUserPrivilegeOnEntities": true,
	}
}

// LabAuthorizationManager answers privilege queries from the stored permissions.
type LabAuthorizationManager struct{ overlay }

// principalKey normalises "DOMAIN\user" and "user@domain" to "user@domain", lower case.
func principalKey(p string) string {
	p = strings.ToLower(p)
	if i := strings.Index(p, `\`); i >= 0 {
		return p[i+1:] + "@" + p[:i]
	}
	return p
}

func (l *Lab) authz() *simulator.AuthorizationManager {
	return simulator.Map.Get(*l.client.ServiceContent.AuthorizationManager).(*simulator.AuthorizationManager)
}

// setupAuthorization adds the lab roles and gives the restricted user its
// permissions (README "Users and permissions"), and registers the overlay.
func (l *Lab) setupAuthorization() {
	am := l.authz()
	principal := restrictedPrincipal(l.opts.restrictedUser)
	simulator.Map.WithLock(am, func() {
		for _, r := range labRoles {
			am.AddAuthorizationRole(&types.AddAuthorizationRole{Name: r.name, PrivIds: r.privs})
		}
	})
	grant := func(entity types.ManagedObjectReference, role string, propagate bool) {
		id, ok := l.roleID(role)
		if !ok {
			return
		}
		simulator.Map.WithLock(am, func() {
			e := entity
			am.SetEntityPermissions(&types.SetEntityPermissions{Entity: entity, Permission: []types.Permission{
				{Entity: &e, Principal: principal, RoleId: id, Propagate: propagate},
			}})
		})
	}
	root := l.client.ServiceContent.RootFolder
	grant(root, roleReadOnly, false)
	for _, obj := range simulator.Map.All("Datacenter") {
		dc := obj.(*simulator.Datacenter)
		grant(dc.Self, roleReadOnly, false)
		grant(dc.HostFolder, roleReadOnly, true)
		grant(dc.DatastoreFolder, roleReadOnly, true)
		grant(dc.NetworkFolder, roleReadOnly, true)
		grant(dc.VmFolder, roleVMCreator, false)
	}
	for _, name := range l.opts.restrictedVMs {
		v := l.vmByName(name)
		if v == nil {
			continue
		}
		role := roleVMOperator
		if name == "linux-db01" {
			role = roleVMOperatorNoGuest
		}
		grant(v.Ref, role, true)
	}
	if ds := entityByName("Datastore", "prod-ds1"); ds != nil {
		grant(ds.Reference(), roleDatastoreConsumer, true)
	}
	if c := entityByName("ClusterComputeResource", "Production"); c != nil {
		grant(c.Reference(), rolePoolConsumer, true)
	}
	// Production VMs' NICs may be restored onto "VM Network"; other networks need an administrator.
	for _, obj := range simulator.Map.All("Network") {
		if n, ok := obj.(*mo.Network); ok && n.Name == "VM Network" {
			grant(n.Self, roleNetworkConsumer, false)
		}
	}
	l.ensureAuthzOverlay()
}

// restrictedPrincipal is the user's principal as vCenter writes it: DOMAIN\user.
func restrictedPrincipal(user string) string {
	if i := strings.Index(user, "@"); i >= 0 {
		return strings.ToUpper(user[i+1:]) + `\` + user[:i]
	}
	return user
}

func (l *Lab) ensureAuthzOverlay() {
	ref := *l.client.ServiceContent.AuthorizationManager
	key := types.ManagedObjectReference{Type: "Lab" + ref.Type, Value: ref.Value}
	if simulator.Map.Get(key) != nil {
		return
	}
	o := &LabAuthorizationManager{overlay{lab: l}}
	o.Self = key
	simulator.Map.Put(o)
}

func entityByName(kind, name string) mo.Entity {
	for _, e := range simulator.Map.All(kind) {
		if e.Entity().Name == name {
			return e
		}
	}
	return nil
}

func (l *Lab) roleID(name string) (int32, bool) {
	am := l.authz()
	var id int32
	found := false
	simulator.Map.WithLock(am, func() {
		for _, r := range am.RoleList {
			if r.Name == name {
				id, found = r.RoleId, true
			}
		}
	})
	return id, found
}

// userPrivileges is the privilege set of user on entity (nil: none), from the
// nearest permission naming the user.
func (l *Lab) userPrivileges(user string, entity types.ManagedObjectReference) []string {
	am := l.authz()
	key := principalKey(user)
	var roles []types.AuthorizationRole
	var perms func(e types.ManagedObjectReference) []types.Permission
	simulator.Map.WithLock(am, func() {
		roles = append(roles, am.RoleList...)
	})
	perms = func(e types.ManagedObjectReference) []types.Permission {
		var out []types.Permission
		simulator.Map.WithLock(am, func() {
			res := am.RetrieveEntityPermissions(&types.RetrieveEntityPermissions{Entity: e, Inherited: false})
			if b, ok := res.(*methods.RetrieveEntityPermissionsBody); ok && b.Res != nil {
				out = b.Res.Returnval
			}
		})
		return out
	}
	ref := entity
	for depth := 0; depth < 64; depth++ {
		var ids []int32
		for _, p := range perms(ref) {
			if !p.Group && principalKey(p.Principal) == key && (depth == 0 || p.Propagate) {
				ids = append(ids, p.RoleId)
			}
		}
		if len(ids) > 0 {
			set := map[string]bool{}
			out := []string{}
			for _, id := range ids {
				for _, r := range roles {
					if r.RoleId != id {
						continue
					}
					for _, priv := range r.Privilege {
						if !set[priv] {
							set[priv] = true
							out = append(out, priv)
						}
					}
				}
			}
			return out
		}
		obj, ok := simulator.Map.Get(ref).(mo.Entity)
		if !ok || obj.Entity().Parent == nil {
			return nil
		}
		ref = *obj.Entity().Parent
	}
	return nil
}

// sessionOwner is the user of the session a Has* call asks about.
func (o *LabAuthorizationManager) sessionOwner(ctx *simulator.Context, sessionID string) string {
	if ctx.Session != nil && (sessionID == "" || sessionID == ctx.Session.Key) {
		return ctx.Session.UserName
	}
	return o.lab.sessionUser(sessionID)
}

func (o *LabAuthorizationManager) vcsim() *simulator.AuthorizationManager { return o.lab.authz() }

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// HasPrivilegeOnEntities answers, per entity and privilege, whether the session's user holds it.
func (o *LabAuthorizationManager) HasPrivilegeOnEntities(ctx *simulator.Context, req *types.HasPrivilegeOnEntities) soap.HasFault {
	user := o.sessionOwner(ctx, req.SessionId)
	if user != o.lab.opts.restrictedUser {
		r := *req
		r.This = o.target()
		return o.vcsim().HasPrivilegeOnEntities(&r)
	}
	out := []types.EntityPrivilege{}
	for _, e := range req.Entity {
		held := o.lab.userPrivileges(user, e)
		ep := types.EntityPrivilege{Entity: e}
		for _, id := range req.PrivId {
			ep.PrivAvailability = append(ep.PrivAvailability, types.PrivilegeAvailability{PrivId: id, IsGranted: contains(held, id)})
		}
		out = append(out, ep)
	}
	return &methods.HasPrivilegeOnEntitiesBody{Res: &types.HasPrivilegeOnEntitiesResponse{Returnval: out}}
}

// HasPrivilegeOnEntity is HasPrivilegeOnEntities for one entity.
func (o *LabAuthorizationManager) HasPrivilegeOnEntity(ctx *simulator.Context, req *types.HasPrivilegeOnEntity) soap.HasFault {
	user := o.sessionOwner(ctx, req.SessionId)
	if user != o.lab.opts.restrictedUser {
		r := *req
		r.This = o.target()
		return o.vcsim().HasPrivilegeOnEntity(&r)
	}
	held := o.lab.userPrivileges(user, req.Entity)
	out := make([]bool, len(req.PrivId))
	for i, id := range req.PrivId {
		out[i] = contains(held, id)
	}
	return &methods.HasPrivilegeOnEntityBody{Res: &types.HasPrivilegeOnEntityResponse{Returnval: out}}
}

// FetchUserPrivilegeOnEntities lists a user's privileges per entity.
func (o *LabAuthorizationManager) FetchUserPrivilegeOnEntities(ctx *simulator.Context, req *types.FetchUserPrivilegeOnEntities) soap.HasFault {
	if principalKey(req.UserName) != principalKey(o.lab.opts.restrictedUser) {
		r := *req
		r.This = o.target()
		return o.vcsim().FetchUserPrivilegeOnEntities(&r)
	}
	out := []types.UserPrivilegeResult{}
	for _, e := range req.Entities {
		out = append(out, types.UserPrivilegeResult{Entity: e, Privileges: o.lab.userPrivileges(o.lab.opts.restrictedUser, e)})
	}
	return &methods.FetchUserPrivilegeOnEntitiesBody{Res: &types.FetchUserPrivilegeOnEntitiesResponse{Returnval: out}}
}
