package main

import (
	"errors"
	"fmt"
	"io"
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
// DatastoreGet and DatastorePut faults.

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
		if o.lab.restrictedCtx(ctx) { // the ticket carries the session's (lack of) privileges
			o.lab.perms.mu.Lock()
			if o.lab.perms.tickets == nil {
				o.lab.perms.tickets = map[string]bool{}
			}
			o.lab.perms.tickets[b.Res.Returnval.Id] = true
			o.lab.perms.mu.Unlock()
		}
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

// datastoreRestricted reports whether an authorized datastore HTTP request
// comes from the restricted user (session cookie or a ticket its session
// acquired), who holds no datastore privileges (permissions.go).
func (l *Lab) datastoreRestricted(r *http.Request) bool {
	if c, err := r.Cookie(soap.SessionCookieName); err == nil {
		if user := l.sessionUser(c.Value); user != "" {
			return user == l.opts.restrictedUser
		}
	}
	if c, err := r.Cookie("vmware_cgi_ticket"); err == nil && validTicket(c.Value) {
		l.perms.mu.Lock()
		defer l.perms.mu.Unlock()
		return l.perms.tickets[c.Value]
	}
	return false
}

// serveDatastore passes datastore HTTP requests to vcsim, applying injected
// faults: DatastoreGet rules to GET/HEAD, DatastorePut rules to PUT/POST
// (uploads). Other methods (DELETE) pass unchanged.
func (l *Lab) serveDatastore(w http.ResponseWriter, r *http.Request, next http.Handler) {
	if !l.datastoreAuthorized(r) {
		w.Header().Set("WWW-Authenticate", `Basic realm="VMware HTTP server"`)
		http.Error(w, "401 Unauthorized", http.StatusUnauthorized)
		return
	}
	if l.datastoreRestricted(r) {
		http.Error(w, "403 Forbidden: the user has no privileges on this datastore", http.StatusForbidden)
		return
	}
	method := ""
	switch r.Method {
	case http.MethodGet, http.MethodHead:
		method = "DatastoreGet"
	case http.MethodPut, http.MethodPost:
		method = "DatastorePut"
	default:
		next.ServeHTTP(w, r)
		return
	}
	p := strings.TrimPrefix(r.URL.Path, "/folder/")
	rule := l.faults.take(func(f *faultRule) bool {
		return f.Method == method && (f.Path == "" || strings.Contains(p, f.Path)) &&
			(f.VM == "" || strings.HasPrefix(p, f.VM+"/"))
	})
	if rule == nil {
		next.ServeHTTP(w, r)
		if method == "DatastorePut" {
			l.uploadedIntoDelta(r, -1)
		}
		return
	}
	time.Sleep(time.Duration(rule.DelayMs) * time.Millisecond)
	if method == "DatastoreGet" {
		serveGetFault(w, r, next, rule, p)
	} else {
		servePutFault(w, r, next, rule, p)
		if rule.Fault == "WriteFault" {
			l.uploadedIntoDelta(r, rule.AfterBytes) // the bytes that arrived stay, as in any file
		}
	}
}

// serveGetFault applies a DatastoreGet rule: "" only delays, "ReadFault" cuts
// the connection after AfterBytes bytes of the body, "FileNotFound"/"NotFound"
// answer 404 and any other fault 500.
func serveGetFault(w http.ResponseWriter, r *http.Request, next http.Handler, rule *faultRule, p string) {
	switch rule.Fault {
	case "":
		next.ServeHTTP(w, r) // only delayed
	case "ReadFault":
		next.ServeHTTP(&cutWriter{ResponseWriter: w, left: rule.AfterBytes}, r)
	case "FileNotFound", "NotFound":
		http.Error(w, fmt.Sprintf("%s not found", p), http.StatusNotFound)
	default:
		http.Error(w, rule.Fault, http.StatusInternalServerError)
	}
}

// putStatus is the HTTP status of an upload fault. The codes ESXi's hostd
// answers are not documented; the lab answers 507 Insufficient Storage for a
// full datastore, 404 for a missing file or directory and 500 otherwise.
var putStatus = map[string]int{
	"NoDiskSpace": http.StatusInsufficientStorage, "FileNotFound": http.StatusNotFound, "NotFound": http.StatusNotFound,
}

// servePutFault applies a DatastorePut rule: "" only delays; "WriteFault"
// lets the first AfterBytes bytes of the upload reach the file (as a broken-off
// upload leaves a partial file on the datastore) and then drops the connection
// without an answer; any other fault reads the whole upload, stores nothing
// and answers its status (putStatus) with the fault name as the body.
func servePutFault(w http.ResponseWriter, r *http.Request, next http.Handler, rule *faultRule, p string) {
	switch rule.Fault {
	case "":
		next.ServeHTTP(w, r) // only delayed
	case "WriteFault":
		r.Body = &cutReader{r: r.Body, left: rule.AfterBytes}
		next.ServeHTTP(silentWriter{w}, r) // vcsim copies until cutReader fails
		dropConnection(w)
	default:
		_, _ = io.Copy(io.Discard, r.Body) // answer after the upload, so the client reads the status
		status, ok := putStatus[rule.Fault]
		if !ok {
			status = http.StatusInternalServerError
		}
		msg := rule.Message
		if msg == "" {
			msg = fmt.Sprintf("%s: %s", rule.Fault, p)
		}
		http.Error(w, msg, status)
	}
}

// cutReader yields `left` bytes of an upload, then fails as a dropped connection would.
type cutReader struct {
	r    io.ReadCloser
	left int64
}

func (c *cutReader) Read(b []byte) (int, error) {
	if c.left <= 0 {
		return 0, errors.New("lab write fault: connection cut")
	}
	if int64(len(b)) > c.left {
		b = b[:c.left]
	}
	n, err := c.r.Read(b)
	c.left -= int64(n)
	return n, err
}

func (c *cutReader) Close() error { return c.r.Close() }

// silentWriter swallows vcsim's answer to a cut upload (the connection is dropped instead).
type silentWriter struct{ http.ResponseWriter }

func (silentWriter) WriteHeader(int)             {}
func (silentWriter) Write(b []byte) (int, error) { return len(b), nil }

// dropConnection closes the client's connection without an answer.
func dropConnection(w http.ResponseWriter) {
	if h, ok := w.(http.Hijacker); ok {
		if conn, _, err := h.Hijack(); err == nil {
			_ = conn.Close()
		}
	}
}

// uploadedIntoDelta: a PUT into the data file of a lab delta disk (the top of
// a snapshot chain) replaces the blocks it wrote: all of them, or those below
// `limit` bytes for an upload cut off there (limit < 0: the whole disk). Lab: the delta's
// block map is what reads consult, so the upload marks all blocks present.
// ESXi: a delta is vmfsSparse/SEsparse, which a raw PUT cannot write (see the
// replication report); this models the bytes a write through the disk leaves.
func (l *Lab) uploadedIntoDelta(r *http.Request, limit int64) {
	ds := r.URL.Query().Get("dsName")
	p := strings.TrimPrefix(r.URL.Path, "/folder/")
	if ds == "" || p == "" {
		return
	}
	_, flat := l.localDiskPaths("[" + ds + "] " + strings.TrimSuffix(p, "-delta.vmdk") + ".vmdk")
	local := strings.TrimSuffix(flat, "-flat.vmdk") + "-delta.vmdk"
	if !strings.HasSuffix(p, "-delta.vmdk") {
		return
	}
	for _, rec := range l.records() {
		vm := simVM(rec.Ref)
		if vm == nil {
			continue
		}
		simulator.Map.WithLock(vm, func() {
			for _, d := range rec.Disks {
				for _, f := range d.files {
					if f.data == local && f.blocks != nil {
						for b := int64(0); b*cbtBlock < d.Capacity && (limit < 0 || b*cbtBlock < limit); b++ {
							f.blocks[b] = true
						}
					}
				}
			}
		})
	}
}
