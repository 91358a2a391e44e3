package main

import (
	"fmt"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/vmware/govmomi/simulator"
	"github.com/vmware/govmomi/vim25/methods"
	"github.com/vmware/govmomi/vim25/soap"
	"github.com/vmware/govmomi/vim25/types"
)

// Datastore HTTP access (/folder/<path>?dcPath=…&dsName=…).
//
// vSphere: requests need an authenticated session (the vmware_soap_session
// cookie) or a ticket from SessionManager.AcquireGenericServiceTicket (sent as
// the vmware_cgi_ticket cookie); otherwise 401. GET supports Range; PUT uploads
// a whole file. vcsim 0.24.2 serves /folder without any authentication. Lab:
// vcsim serves the files, the lab enforces authentication and applies
// DatastoreGet faults.

const ticketLifetime = 10 * time.Minute

var serviceTickets = struct {
	sync.Mutex
	m map[string]time.Time
}{m: map[string]time.Time{}}

// AcquireGenericServiceTicket returns a ticket for one HTTP service request
// (vCenter/ESXi accept it as the vmware_cgi_ticket cookie). Lab: vcsim's
// ticket, remembered for 10 minutes so datastore HTTP accepts it.
func (o *LabSessionManager) AcquireGenericServiceTicket(ctx *simulator.Context, req *types.AcquireGenericServiceTicket) soap.HasFault {
	sm := simulator.Map.SessionManager()
	r := *req
	r.This = sm.Self
	res := sm.AcquireGenericServiceTicket(&r)
	if b, ok := res.(*methods.AcquireGenericServiceTicketBody); ok && b.Res != nil {
		serviceTickets.Lock()
		serviceTickets.m[b.Res.Returnval.Id] = time.Now().Add(ticketLifetime)
		serviceTickets.Unlock()
	}
	return res
}

func validTicket(id string) bool {
	serviceTickets.Lock()
	defer serviceTickets.Unlock()
	exp, ok := serviceTickets.m[id]
	return ok && time.Now().Before(exp)
}

// datastoreAuthorized reports whether a datastore HTTP request carries a live
// session or service ticket.
func (l *Lab) datastoreAuthorized(r *http.Request) bool {
	if c, err := r.Cookie(soap.SessionCookieName); err == nil && l.sessionActive(c.Value) {
		return true
	}
	if c, err := r.Cookie("vmware_cgi_ticket"); err == nil && validTicket(c.Value) {
		return true
	}
	return false
}

// serveDatastore passes datastore HTTP requests to vcsim, applying DatastoreGet
// faults: a status code (Fault "FileNotFound" → 404, others → 500) or, for
// "ReadFault", a connection cut after AfterBytes bytes of the body.
func (l *Lab) serveDatastore(w http.ResponseWriter, r *http.Request, next http.Handler) {
	if !l.datastoreAuthorized(r) {
		w.Header().Set("WWW-Authenticate", `Basic realm="VMware HTTP server"`)
		http.Error(w, "401 Unauthorized", http.StatusUnauthorized)
		return
	}
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		next.ServeHTTP(w, r)
		return
	}
	p := strings.TrimPrefix(r.URL.Path, "/folder/")
	rule := l.faults.take(func(f *faultRule) bool {
		return f.Method == "DatastoreGet" && (f.Path == "" || strings.Contains(p, f.Path)) &&
			(f.VM == "" || strings.HasPrefix(p, f.VM+"/"))
	})
	if rule == nil {
		next.ServeHTTP(w, r)
		return
	}
	time.Sleep(time.Duration(rule.DelayMs) * time.Millisecond)
	switch rule.Fault {
	case "", "ReadFault":
		next.ServeHTTP(&cutWriter{ResponseWriter: w, left: rule.AfterBytes}, r)
	case "FileNotFound", "NotFound":
		http.Error(w, fmt.Sprintf("%s not found", p), http.StatusNotFound)
	default:
		http.Error(w, rule.Fault, http.StatusInternalServerError)
	}
}
