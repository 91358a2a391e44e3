package main

import (
	"github.com/vmware/govmomi/simulator"
	"github.com/vmware/govmomi/vim25/methods"
	"github.com/vmware/govmomi/vim25/mo"
	"github.com/vmware/govmomi/vim25/soap"
	"github.com/vmware/govmomi/vim25/types"
)

// LabCustomFieldsManager replaces vcsim's CustomFieldsManager.SetField.
// Registered as an overlay (overlay.go, soap.go's overlays):
// "CustomFieldsManager": {"SetField": true}.
type LabCustomFieldsManager struct{ overlay }

// SetField sets a custom attribute's value on an entity.
//
// vSphere: an entity holds one value per field: setting it again replaces the
// value in customValue (and the deprecated value); InvalidArgument for an
// unknown key; ManagedObjectNotFound for an entity that does not exist.
// Stillpoint's node heartbeat sets the same field on the root folder every
// minute (backend/sources/snapshot/ownership.ts). vcsim 0.24.2 appends a new
// value on every call, so the list grows for ever and readers see every old
// value, and it panics on an unknown entity. Lab: replace, or append when the
// entity has no value for the key yet.
func (o *LabCustomFieldsManager) SetField(ctx *simulator.Context, req *types.SetField) soap.HasFault {
	body := &methods.SetFieldBody{}
	cfm, ok := simulator.Map.Get(o.target()).(*simulator.CustomFieldsManager)
	if !ok {
		body.Fault_ = simulator.Fault(notFoundMessage(o.target()), &types.ManagedObjectNotFound{Obj: o.target()})
		return body
	}
	known := false
	simulator.Map.WithLock(cfm, func() {
		for _, f := range cfm.Field {
			if f.Key == req.Key {
				known = true
			}
		}
	})
	if !known {
		body.Fault_ = simulator.Fault("A specified parameter was not correct: key", &types.InvalidArgument{InvalidProperty: "key"})
		return body
	}
	obj, ok := simulator.Map.Get(req.Entity).(mo.Entity)
	if !ok {
		body.Fault_ = simulator.Fault(notFoundMessage(req.Entity), &types.ManagedObjectNotFound{Obj: req.Entity})
		return body
	}
	entity := obj.Entity()
	value := &types.CustomFieldStringValue{CustomFieldValue: types.CustomFieldValue{Key: req.Key}, Value: req.Value}
	simulator.Map.WithLock(obj, func() {
		entity.CustomValue = setCustomValue(entity.CustomValue, value)
		entity.Value = setCustomValue(entity.Value, value)
	})
	body.Res = &types.SetFieldResponse{}
	return body
}

// setCustomValue replaces the value for v's key in list (dropping duplicates vcsim may have left), or appends it.
func setCustomValue(list []types.BaseCustomFieldValue, v *types.CustomFieldStringValue) []types.BaseCustomFieldValue {
	out := make([]types.BaseCustomFieldValue, 0, len(list)+1)
	replaced := false
	for _, x := range list {
		if x.GetCustomFieldValue().Key != v.Key {
			out = append(out, x)
		} else if !replaced {
			out = append(out, v)
			replaced = true
		}
	}
	if !replaced {
		out = append(out, v)
	}
	return out
}
