package main

import (
	"sync"

	"github.com/vmware/govmomi/simulator"
	"github.com/vmware/govmomi/vim25/methods"
	"github.com/vmware/govmomi/vim25/soap"
	"github.com/vmware/govmomi/vim25/types"
)

// Paged property retrieval.
//
// vSphere: RetrievePropertiesEx returns at most options.maxObjects objects and
// a token; ContinueRetrievePropertiesEx(token) returns the next page (the last
// page has no token); CancelRetrievePropertiesEx drops the rest. An unknown or
// used-up token is InvalidArgument. vcsim 0.24.2 ignores maxObjects and has no
// ContinueRetrievePropertiesEx. Lab: vcsim collects everything, the lab hands it
// out page by page (with no maxObjects everything comes in one page). For the
// restricted user the result is filtered first (permissions.go).

// LabPropertyCollector adds paging to vcsim's PropertyCollector.
type LabPropertyCollector struct{ overlay }

type retrievePage struct {
	session string
	size    int
	rest    []types.ObjectContent
}

var retrievePages = struct {
	sync.Mutex
	m map[string]*retrievePage
}{m: map[string]*retrievePage{}}

// collector returns the vcsim PropertyCollector the call is for (vcsim keeps
// one per session).
func (o *LabPropertyCollector) collector(ctx *simulator.Context) *simulator.PropertyCollector {
	if ctx.Session != nil {
		if pc, ok := ctx.Session.Get(o.target()).(*simulator.PropertyCollector); ok {
			return pc
		}
	}
	pc, _ := simulator.Map.Get(o.target()).(*simulator.PropertyCollector)
	return pc
}

func sessionKey(ctx *simulator.Context) string {
	if ctx.Session == nil {
		return ""
	}
	return ctx.Session.Key
}

// RetrievePropertiesEx retrieves properties, at most options.maxObjects objects per page.
func (o *LabPropertyCollector) RetrievePropertiesEx(ctx *simulator.Context, req *types.RetrievePropertiesEx) soap.HasFault {
	pc := o.collector(ctx)
	if pc == nil {
		return &methods.RetrievePropertiesExBody{Fault_: o.gone()}
	}
	r := *req
	r.This = pc.Self
	size := int(r.Options.MaxObjects)
	r.Options.MaxObjects = 0
	var res soap.HasFault
	o.withLock(ctx, pc, func() { res = pc.RetrievePropertiesEx(ctx, &r) })
	b, ok := res.(*methods.RetrievePropertiesExBody)
	if ok && b.Res != nil && b.Res.Returnval != nil && o.lab.restrictedCtx(ctx) { // permissions.go
		b.Res.Returnval.Objects = o.lab.filterContents(b.Res.Returnval.Objects)
	}
	if !ok || b.Res == nil || b.Res.Returnval == nil || size <= 0 || len(b.Res.Returnval.Objects) <= size {
		return res
	}
	all := b.Res.Returnval.Objects
	token := randomHex(12)
	retrievePages.Lock()
	retrievePages.m[token] = &retrievePage{session: sessionKey(ctx), size: size, rest: all[size:]}
	retrievePages.Unlock()
	b.Res.Returnval.Objects = all[:size]
	b.Res.Returnval.Token = token
	return b
}

// ContinueRetrievePropertiesEx returns the next page of a paged retrieval.
func (o *LabPropertyCollector) ContinueRetrievePropertiesEx(ctx *simulator.Context, req *types.ContinueRetrievePropertiesEx) soap.HasFault {
	body := &methods.ContinueRetrievePropertiesExBody{}
	retrievePages.Lock()
	defer retrievePages.Unlock()
	p := retrievePages.m[req.Token]
	if p == nil || p.session != sessionKey(ctx) {
		body.Fault_ = simulator.Fault("A specified parameter was not correct: token", &types.InvalidArgument{InvalidProperty: "token"})
		return body
	}
	n := p.size
	if n > len(p.rest) {
		n = len(p.rest)
	}
	result := types.RetrieveResult{Objects: p.rest[:n]}
	p.rest = p.rest[n:]
	if len(p.rest) > 0 {
		result.Token = req.Token
	} else {
		delete(retrievePages.m, req.Token)
	}
	body.Res = &types.ContinueRetrievePropertiesExResponse{Returnval: result}
	return body
}

// CancelRetrievePropertiesEx drops the remaining pages of a retrieval.
func (o *LabPropertyCollector) CancelRetrievePropertiesEx(ctx *simulator.Context, req *types.CancelRetrievePropertiesEx) soap.HasFault {
	retrievePages.Lock()
	if p := retrievePages.m[req.Token]; p != nil && p.session == sessionKey(ctx) {
		delete(retrievePages.m, req.Token)
	}
	retrievePages.Unlock()
	return &methods.CancelRetrievePropertiesExBody{Res: &types.CancelRetrievePropertiesExResponse{}}
}
