package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log"
	"net/http"
	"reflect"
	"regexp"
	"runtime/debug"
	"strings"
	"sync"

	"github.com/vmware/govmomi/simulator"
	"github.com/vmware/govmomi/vim25/soap"
	"github.com/vmware/govmomi/vim25/types"
	"github.com/vmware/govmomi/vim25/xml"
)

// frontEnd wraps vcsim's HTTP handler. It serves the lab's own endpoints and
// looks at every SOAP request before vcsim does, to
//   - enforce sessions like vCenter (vcsim 0.24.2 answers RetrieveProperties
//     without a session),
//   - enforce the restricted user's permissions like vCenter (permissions.go),
//   - apply injected faults (faults.go),
//   - route the methods the lab adds or changes on vcsim's own object types to
//     lab "overlay" objects (see overlays).
func (l *Lab) frontEnd(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch p := r.URL.Path; {
		case strings.HasPrefix(p, "/lab/"):
			l.serveControl(w, r)
		case p == cloneTicketPath:
			l.serveCloneTicket(w, r)
		case p == "/guestFile" || (strings.HasPrefix(p, "/guestFile/") && r.URL.Query().Get("lab") != ""):
			l.serveGuestFile(w, r)
		case strings.HasPrefix(p, "/folder/"):
			l.serveDatastore(w, r, next)
		case r.Method == http.MethodPost && (p == "/sdk" || p == "/sdk/vimService"):
			l.serveSDK(w, r, next)
		default:
			next.ServeHTTP(w, r)
		}
	})
}

// publicMethods may be called without a session, as on a real vCenter.
var publicMethods = map[string]bool{
	"RetrieveServiceContent": true, "Login": true, "LoginByToken": true, "CloneSession": true,
	"LoginExtensionByCertificate": true, "LoginExtensionBySubjectName": true, "LoginBySSPI": true,
}

// overlays lists the methods the lab implements on vcsim's own managed object
// types. vcsim dispatches a SOAP call to the registry object of the request's
// _this; replacing VirtualMachine (or TaskManager, EventManager, Task,
// VirtualMachineSnapshot) objects with wrapper types would break vcsim's own
// code, which type-asserts them (e.g. Map.Get(ref).(*VirtualMachine)). So the
// front end rewrites _this of just these calls to a lab object registered in the
// same registry with type "Lab"+Type and the same value (overlay.go); vcsim then
// decodes, authenticates, locks, dispatches and encodes as for any other object.
var overlays = map[string]map[string]bool{
	"VirtualMachine": {"QueryChangedDiskAreas": true, "CreateSnapshot_Task": true, "CreateSnapshotEx_Task": true,
		"ConsolidateVMDisks_Task": true, "ReconfigVM_Task": true, "PowerOnVM_Task": true, "PowerOffVM_Task": true,
		"RemoveAllSnapshots_Task": true, "RevertToCurrentSnapshot_Task": true, "SuspendVM_Task": true, "ShutdownGuest": true},
	"VirtualMachineSnapshot": {"RemoveSnapshot_Task": true, "RevertToSnapshot_Task": true},
	"TaskManager":            {"CreateTask": true},
	"Task":                   {"SetTaskState": true, "UpdateProgress": true, "SetTaskDescription": true, "CancelTask": true},
	"EventManager":           {"LogUserEvent": true},
	"SessionManager":         {"AcquireGenericServiceTicket": true},
	"SearchIndex":            {"FindByUuid": true},
	"CustomFieldsManager":    {"SetField": true},
	"PropertyCollector": {"RetrievePropertiesEx": true, "ContinueRetrievePropertiesEx": true,
		"CancelRetrievePropertiesEx": true},
}

// thisType finds the type attribute of the request's _this element.
var thisType = regexp.MustCompile(`(<(?:[\w-]+:)?_this\b[^>]*\stype=["'])(\w+)(["'])`)

func (l *Lab) serveSDK(w http.ResponseWriter, r *http.Request, next http.Handler) {
	body, err := io.ReadAll(r.Body)
	_ = r.Body.Close()
	if err != nil {
		w.WriteHeader(http.StatusBadRequest)
		return
	}
	restore := func(b []byte) {
		r.Body = io.NopCloser(bytes.NewReader(b))
		r.ContentLength = int64(len(b))
	}
	method, err := simulator.UnmarshalBody(types.TypeFunc(), body)
	if err != nil { // let vcsim produce its own fault
		restore(body)
		next.ServeHTTP(w, r)
		return
	}

	cookie := ""
	if c, err := r.Cookie(soap.SessionCookieName); err == nil {
		cookie = c.Value
	}
	user := ""
	if !publicMethods[method.Name] {
		if user = l.sessionUser(cookie); user == "" {
			writeFault(w, "The session is not authenticated.", &types.NotAuthenticated{
				NoPermission: types.NoPermission{Object: method.This, PrivilegeId: "System.View"},
			})
			return
		}
	}
	// The restricted user (permissions.go): vCenter checks privileges before
	// anything else happens.
	restricted := user != "" && user == l.opts.restrictedUser
	if restricted {
		obj, hidden := method.This, l.hidden(method.This)
		if !hidden {
			obj, hidden = l.hiddenArgument(method.Body)
		}
		if hidden {
			writeFault(w, permissionDenied, noPermission(method.Name, obj))
			return
		}
	}

	if done := l.applyFaults(w, method); done {
		return
	}
	if msg, fault := createVMPlacementFault(method.Body); fault != nil { // pools.go
		writeFault(w, msg, fault)
		return
	}

	if overlays[method.This.Type][method.Name] ||
		(restricted && method.This.Type == "PropertyCollector" && permissionFiltered[method.Name]) ||
		l.restrictedLogin(method) {
		// vCenter answers ManagedObjectNotFound for a VM or snapshot that does
		// not exist (any more). Answer it here, before any lab code runs: the
		// overlay methods build on vcsim code that asserts these objects exist,
		// and an overlay registered for a bogus reference would leak the "Lab"
		// type into vcsim's own fault.
		if l.targetMissing(method.This) {
			writeFault(w, notFoundMessage(method.This), &types.ManagedObjectNotFound{Obj: method.This})
			return
		}
		l.ensureOverlay(method.This)
		body = thisType.ReplaceAll(body, []byte("${1}Lab${2}${3}"))
	}
	restore(body)
	// Safety net: a panic in vcsim or lab code would otherwise just drop the
	// connection (net/http recovers it). Answer a SystemError fault naming the
	// panic instead, and log the stack. vcsim writes nothing before the call
	// returns, so no response has been started yet.
	defer func() {
		if p := recover(); p != nil {
			log.Printf("panic in %s on %s:%s: %v\n%s", method.Name, method.This.Type, method.This.Value, p, debug.Stack())
			msg := fmt.Sprintf("vcsim-lab internal error in %s: %v", method.Name, p)
			writeFault(w, msg, &types.SystemError{Reason: msg})
		}
	}()
	next.ServeHTTP(w, r)
	l.sessions.noteResponse(w.Header())
}

// targetMissing reports whether an overlay call is about a VM or snapshot that
// does not exist: an unknown or destroyed VM, or a snapshot that is gone, whose
// VM is gone (vcsim's Destroy_Task leaves the snapshot objects in its
// registry) or that is no longer in its VM's snapshot tree (vcsim's
// RemoveSnapshot_Task with removeChildren leaves the children's objects).
// The overlay methods check again, since the object may go in the meantime.
func (l *Lab) targetMissing(ref types.ManagedObjectReference) bool {
	switch ref.Type {
	case "VirtualMachine":
		return simVM(ref) == nil
	case "VirtualMachineSnapshot":
		snap, ok := simulator.Map.Get(ref).(*simulator.VirtualMachineSnapshot)
		if !ok {
			return true
		}
		vm := simVM(snap.Vm)
		if vm == nil {
			return true
		}
		missing := false
		simulator.Map.WithLock(vm, func() {
			missing = vm.Snapshot == nil || findTreeItem(vm.Snapshot.RootSnapshotList, ref) == nil
		})
		return missing
	}
	return false
}

// notFoundMessage is vCenter's text for ManagedObjectNotFound.
func notFoundMessage(ref types.ManagedObjectReference) string {
	return fmt.Sprintf("The object 'vim.%s:%s' has already been deleted or has not been completely created", ref.Type, ref.Value)
}

// sessionActive reports whether a vmware_soap_session cookie names a live
// session of one of the lab's users.
func (l *Lab) sessionActive(id string) bool {
	return l.sessionUser(id) != ""
}

// restrictedLogin reports whether a call is a Login of the restricted user,
// which the lab's SessionManager overlay handles (vcsim knows one user).
func (l *Lab) restrictedLogin(method *simulator.Method) bool {
	b, ok := method.Body.(*types.Login)
	return ok && method.Name == "Login" && method.This.Type == "SessionManager" && b.UserName == l.opts.restrictedUser
}

// sessionBook remembers the session keys vcsim handed out (Set-Cookie), so that
// /lab/sessions/expire can terminate them all.
type sessionBook struct {
	mu   sync.Mutex
	keys map[string]bool
}

func (b *sessionBook) noteResponse(h http.Header) {
	for _, c := range (&http.Response{Header: h}).Cookies() {
		if c.Name == soap.SessionCookieName {
			b.mu.Lock()
			if b.keys == nil {
				b.keys = map[string]bool{}
			}
			b.keys[c.Value] = true
			b.mu.Unlock()
		}
	}
}

// expireAll terminates every known session with SessionManager.TerminateSession,
// so the next call with any of them gets NotAuthenticated. It returns how many
// sessions were still live.
func (b *sessionBook) expireAll() int {
	b.mu.Lock()
	keys := b.keys
	b.keys = map[string]bool{}
	b.mu.Unlock()
	sm := simulator.Map.SessionManager()
	ctx := &simulator.Context{Context: context.Background(), Map: simulator.Map, Session: &simulator.Session{}}
	n := 0
	for k := range keys {
		res := sm.TerminateSession(ctx, &types.TerminateSession{This: sm.Self, SessionId: []string{k}})
		if res.Fault() == nil {
			n++
		}
	}
	return n
}

// writeFault writes a SOAP fault response the way vcsim (and vCenter) encode them.
func writeFault(w http.ResponseWriter, msg string, fault types.BaseMethodFault) {
	var detail bytes.Buffer
	e := xml.NewEncoder(&detail)
	kind := reflect.TypeOf(fault).Elem().Name()
	start := xml.StartElement{
		Name: xml.Name{Local: kind + "Fault"},
		Attr: []xml.Attr{{Name: xml.Name{Local: "xmlns"}, Value: "urn:vim25"}, {Name: xml.Name{Local: "xsi:type"}, Value: kind}},
	}
	if err := e.EncodeElement(fault, start); err == nil {
		_ = e.Flush()
	}
	var esc bytes.Buffer
	_ = xml.EscapeText(&esc, []byte(msg))
	w.Header().Set("Content-Type", "text/xml; charset=utf-8")
	w.WriteHeader(http.StatusInternalServerError)
	fmt.Fprintf(w, `%s<soapenv:Envelope xmlns:soapenc="http://schemas.xmlsoap.org/soap/encoding/" xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" xmlns:xsd="http://www.w3.org/2001/XMLSchema" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"><soapenv:Body><soapenv:Fault><faultcode>ServerFaultCode</faultcode><faultstring>%s</faultstring><detail>%s</detail></soapenv:Fault></soapenv:Body></soapenv:Envelope>`,
		xml.Header, esc.String(), detail.String())
}

// writeTaskResponse answers a *_Task method with a reference to the given task.
func writeTaskResponse(w http.ResponseWriter, method string, task types.ManagedObjectReference) {
	w.Header().Set("Content-Type", "text/xml; charset=utf-8")
	w.WriteHeader(http.StatusOK)
	fmt.Fprintf(w, `%s<soapenv:Envelope xmlns:soapenc="http://schemas.xmlsoap.org/soap/encoding/" xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" xmlns:xsd="http://www.w3.org/2001/XMLSchema" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"><soapenv:Body><%sResponse xmlns="urn:vim25"><returnval type="Task">%s</returnval></%sResponse></soapenv:Body></soapenv:Envelope>`,
		xml.Header, method, task.Value, method)
}
