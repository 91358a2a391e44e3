package main

import (
	"io"
	"net/http"
	"os"
	"path"
	"regexp"
	"sort"
	"strings"
	"time"

	"github.com/vmware/govmomi/simulator"
	"github.com/vmware/govmomi/vim25/methods"
	"github.com/vmware/govmomi/vim25/soap"
	"github.com/vmware/govmomi/vim25/types"
)

// The guest file systems behind GuestFileManager: one tree per VM, with the path
// rules of the VM's guest family (guestId "win…": "C:\Dir\file.txt", case-insensitive,
// "\" or "/" as separator; others: "/dir/file", case-sensitive).
//
// vSphere: InitiateFileTransferToGuest applies fileAttributes once the PUT has
// arrived (GuestPosixFileAttributes: permissions, ownerId, groupId, times;
// GuestWindowsFileAttributes: hidden, readOnly, times) and refuses an existing
// file unless overwrite (FileAlreadyExists); MakeDirectoryInGuest creates a
// directory (FileAlreadyExists if it exists, FileNotFound for a missing parent
// unless createParentDirectories); ChangeFileAttributesInGuest sets the attributes
// it is given on a file or directory; ListFilesInGuest lists a directory ("." and
// ".." first, then the entries by name) or names one file, matchPattern is a
// regular expression on the names, index/maxResults page, remaining counts what
// is left; a path that does not exist is FileNotFound, a path that is not
// absolute for the guest family InvalidArgument.
// Lab: every VM starts with its family's usual folders (guestSeedDirs). An upload
// into a folder that does not exist creates it silently (ESXi would fail the
// upload); the folders MakeDirectoryInGuest made are marked "made", and every
// call is recorded (GET /lab/guest/calls), so tests see what the client asked for.

// guestAttrs are the attributes a file or directory carries (JSON for the control API).
type guestAttrs struct {
	Kind             string     `json:"kind"` // "posix" | "windows" | "plain"
	Permissions      *int64     `json:"permissions,omitempty"`
	OwnerID          *int32     `json:"ownerId,omitempty"`
	GroupID          *int32     `json:"groupId,omitempty"`
	Hidden           *bool      `json:"hidden,omitempty"`
	ReadOnly         *bool      `json:"readOnly,omitempty"`
	CreateTime       *time.Time `json:"createTime,omitempty"`
	ModificationTime *time.Time `json:"modificationTime,omitempty"`
	AccessTime       *time.Time `json:"accessTime,omitempty"`
}

func attrsFrom(a types.BaseGuestFileAttributes) guestAttrs {
	switch v := a.(type) {
	case *types.GuestPosixFileAttributes:
		out := guestAttrs{Kind: "posix", OwnerID: v.OwnerId, GroupID: v.GroupId, ModificationTime: v.ModificationTime, AccessTime: v.AccessTime}
		if v.Permissions != 0 {
			p := v.Permissions
			out.Permissions = &p
		}
		return out
	case *types.GuestWindowsFileAttributes:
		return guestAttrs{Kind: "windows", Hidden: v.Hidden, ReadOnly: v.ReadOnly, CreateTime: v.CreateTime, ModificationTime: v.ModificationTime, AccessTime: v.AccessTime}
	case *types.GuestFileAttributes:
		return guestAttrs{Kind: "plain", ModificationTime: v.ModificationTime, AccessTime: v.AccessTime}
	}
	return guestAttrs{Kind: "plain"}
}

func (a guestAttrs) vim(windows bool) types.BaseGuestFileAttributes {
	if windows {
		return &types.GuestWindowsFileAttributes{GuestFileAttributes: types.GuestFileAttributes{ModificationTime: a.ModificationTime, AccessTime: a.AccessTime},
			Hidden: a.Hidden, ReadOnly: a.ReadOnly, CreateTime: a.CreateTime}
	}
	p := &types.GuestPosixFileAttributes{GuestFileAttributes: types.GuestFileAttributes{ModificationTime: a.ModificationTime, AccessTime: a.AccessTime},
		OwnerId: a.OwnerID, GroupId: a.GroupID}
	if a.Permissions != nil {
		p.Permissions = *a.Permissions
	}
	return p
}

// guestEntry is one file or directory in a guest.
type guestEntry struct {
	Path    string     `json:"path"` // as the guest spells it
	Type    string     `json:"type"` // "file" | "directory"
	Size    int64      `json:"size"`
	Sha256  string     `json:"sha256,omitempty"`
	Content string     `json:"content,omitempty"` // UTF-8 text up to 64 KiB
	Attrs   guestAttrs `json:"attributes"`
	Made    bool       `json:"made,omitempty"` // created by MakeDirectoryInGuest
	local   string
}

// guestTree is one VM's guest file system, by path key.
type guestTree struct {
	windows bool
	entries map[string]*guestEntry
}

var winAbs = regexp.MustCompile(`^[A-Za-z]:[\\/]`)

// clean normalises a guest path for the family; ok is false if it is not absolute.
func (t *guestTree) clean(p string) (string, bool) {
	if t.windows {
		if !winAbs.MatchString(p) {
			return "", false
		}
		parts := strings.FieldsFunc(strings.ReplaceAll(p[3:], "/", `\`), func(r rune) bool { return r == '\\' })
		return strings.ToUpper(p[:1]) + `:\` + strings.Join(parts, `\`), true
	}
	if !strings.HasPrefix(p, "/") {
		return "", false
	}
	return path.Clean(p), true
}

func (t *guestTree) key(clean string) string {
	if t.windows {
		return strings.ToLower(clean)
	}
	return clean
}

// parent of a clean path ("" for a root).
func (t *guestTree) parent(clean string) string {
	if t.windows {
		i := strings.LastIndex(clean, `\`)
		if len(clean) <= 3 || i < 0 {
			return ""
		}
		if i == 2 {
			return clean[:3]
		}
		return clean[:i]
	}
	if clean == "/" {
		return ""
	}
	return path.Dir(clean)
}

func (t *guestTree) base(clean string) string {
	if t.windows {
		return clean[strings.LastIndex(clean, `\`)+1:]
	}
	return path.Base(clean)
}

func (t *guestTree) get(clean string) *guestEntry { return t.entries[t.key(clean)] }

func (t *guestTree) put(e *guestEntry) { t.entries[t.key(e.Path)] = e }

// mkdirAll makes clean and its missing parents (made marks the ones created).
func (t *guestTree) mkdirAll(clean string, made bool) *soap.Fault {
	if e := t.get(clean); e != nil {
		if e.Type != "directory" {
			return simulator.Fault("Not a directory: "+clean, &types.FileNotFound{FileFault: types.FileFault{File: clean}})
		}
		return nil
	}
	if p := t.parent(clean); p != "" {
		if f := t.mkdirAll(p, made); f != nil {
			return f
		}
	}
	now := time.Now().UTC()
	t.put(&guestEntry{Path: clean, Type: "directory", Made: made, Attrs: guestAttrs{Kind: map[bool]string{true: "windows", false: "posix"}[t.windows], ModificationTime: &now}})
	return nil
}

// children of a directory, sorted by name.
func (t *guestTree) children(dir *guestEntry) []*guestEntry {
	out := []*guestEntry{}
	for _, e := range t.entries {
		if p := t.parent(e.Path); p != "" && t.key(p) == t.key(dir.Path) {
			out = append(out, e)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Path < out[j].Path })
	return out
}

var guestSeedDirs = map[bool][]string{
	false: {"/", "/etc", "/home", "/opt", "/root", "/srv", "/tmp", "/usr", "/var", "/var/lib", "/var/log", "/var/tmp"},
	true:  {`C:\`, `C:\Program Files`, `C:\ProgramData`, `C:\Users`, `C:\Windows`, `C:\Windows\System32`, `C:\Windows\Temp`, `D:\`},
}

// tree is the guest file system of a VM (created with its family's usual folders). Caller holds g.mu.
func (g *guestState) tree(vmRef string, windows bool) *guestTree {
	t := g.fs[vmRef]
	if t == nil {
		t = &guestTree{windows: windows, entries: map[string]*guestEntry{}}
		for _, d := range guestSeedDirs[windows] {
			_ = t.mkdirAll(d, false)
		}
		g.fs[vmRef] = t
	}
	return t
}

func vmIsWindows(ref types.ManagedObjectReference) bool {
	vm := simVM(ref)
	if vm == nil {
		return false
	}
	var win bool
	simulator.Map.WithLock(vm, func() { win = strings.HasPrefix(vm.Config.GuestId, "win") })
	return win
}

func notAbsolute(p string, windows bool) *soap.Fault {
	want := "an absolute path such as /dir/file"
	if windows {
		want = `an absolute path such as C:\Dir\file`
	}
	return simulator.Fault("A specified parameter was not correct: "+p+" is not "+want, &types.InvalidArgument{InvalidProperty: "path"})
}

// inGuestFS checks the VM and credentials (guestCheck), then runs f on the VM's
// guest tree holding the guest state's lock.
func (l *Lab) inGuestFS(vm types.ManagedObjectReference, auth types.BaseGuestAuthentication, f func(g *guestState, t *guestTree, name, user string) *soap.Fault) *soap.Fault {
	windows := vmIsWindows(vm)
	return l.inGuest(vm, auth, func(g *guestState, name, user string) *soap.Fault {
		return f(g, g.tree(vm.Value, windows), name, user)
	})
}

// MakeDirectoryInGuest creates a directory in the guest (see the top of this file).
func (m *GuestFileManager) MakeDirectoryInGuest(ctx *simulator.Context, req *types.MakeDirectoryInGuest) soap.HasFault {
	body := &methods.MakeDirectoryInGuestBody{}
	body.Fault_ = m.lab.inGuestFS(req.Vm, req.Auth, func(g *guestState, t *guestTree, name, user string) *soap.Fault {
		g.calls = append(g.calls, guestCall{Kind: "mkdir", VM: name, VMRef: req.Vm.Value, User: user, Time: time.Now(),
			GuestFilePath: req.DirectoryPath, CreateParents: req.CreateParentDirectories})
		clean, ok := t.clean(req.DirectoryPath)
		if !ok {
			return notAbsolute(req.DirectoryPath, t.windows)
		}
		if t.get(clean) != nil {
			return simulator.Fault("The file already exists: "+clean, &types.FileAlreadyExists{FileFault: types.FileFault{File: clean}})
		}
		p := t.parent(clean)
		if pe := t.get(p); p != "" && (pe == nil || pe.Type != "directory") && !req.CreateParentDirectories {
			return simulator.Fault("File "+p+" was not found", &types.FileNotFound{FileFault: types.FileFault{File: p}})
		}
		if f := t.mkdirAll(clean, true); f != nil {
			return f
		}
		body.Res = &types.MakeDirectoryInGuestResponse{}
		return nil
	})
	return body
}

// merge sets the attributes b gives (the others stay), as ChangeFileAttributesInGuest does.
func (a guestAttrs) merge(b guestAttrs) guestAttrs {
	if b.Permissions != nil {
		a.Permissions = b.Permissions
	}
	if b.OwnerID != nil {
		a.OwnerID = b.OwnerID
	}
	if b.GroupID != nil {
		a.GroupID = b.GroupID
	}
	if b.Hidden != nil {
		a.Hidden = b.Hidden
	}
	if b.ReadOnly != nil {
		a.ReadOnly = b.ReadOnly
	}
	if b.CreateTime != nil {
		a.CreateTime = b.CreateTime
	}
	if b.ModificationTime != nil {
		a.ModificationTime = b.ModificationTime
	}
	if b.AccessTime != nil {
		a.AccessTime = b.AccessTime
	}
	return a
}

// ChangeFileAttributesInGuest sets attributes of a file or directory: only
// those given change; FileNotFound when nothing is at the path, InvalidArgument
// for the other family's attributes.
func (m *GuestFileManager) ChangeFileAttributesInGuest(ctx *simulator.Context, req *types.ChangeFileAttributesInGuest) soap.HasFault {
	body := &methods.ChangeFileAttributesInGuestBody{}
	body.Fault_ = m.lab.inGuestFS(req.Vm, req.Auth, func(g *guestState, t *guestTree, name, user string) *soap.Fault {
		attrs := attrsFrom(req.FileAttributes)
		g.calls = append(g.calls, guestCall{Kind: "attributes", VM: name, VMRef: req.Vm.Value, User: user, Time: time.Now(), GuestFilePath: req.GuestFilePath, Attributes: &attrs})
		clean, ok := t.clean(req.GuestFilePath)
		if !ok {
			return notAbsolute(req.GuestFilePath, t.windows)
		}
		if (attrs.Kind == "posix" && t.windows) || (attrs.Kind == "windows" && !t.windows) {
			return simulator.Fault("A specified parameter was not correct: fileAttributes", &types.InvalidArgument{InvalidProperty: "fileAttributes"})
		}
		e := t.get(clean)
		if e == nil {
			return simulator.Fault("File "+clean+" was not found", &types.FileNotFound{FileFault: types.FileFault{File: clean}})
		}
		kind := e.Attrs.Kind
		e.Attrs = e.Attrs.merge(attrs)
		e.Attrs.Kind = kind
		body.Res = &types.ChangeFileAttributesInGuestResponse{}
		return nil
	})
	return body
}

// ListFilesInGuest lists a directory or names one file (see the top of this file).
func (m *GuestFileManager) ListFilesInGuest(ctx *simulator.Context, req *types.ListFilesInGuest) soap.HasFault {
	body := &methods.ListFilesInGuestBody{}
	body.Fault_ = m.lab.inGuestFS(req.Vm, req.Auth, func(g *guestState, t *guestTree, name, user string) *soap.Fault {
		g.calls = append(g.calls, guestCall{Kind: "list", VM: name, VMRef: req.Vm.Value, User: user, Time: time.Now(), GuestFilePath: req.FilePath})
		clean, ok := t.clean(req.FilePath)
		if !ok {
			return notAbsolute(req.FilePath, t.windows)
		}
		e := t.get(clean)
		if e == nil {
			return simulator.Fault("File "+clean+" was not found", &types.FileNotFound{FileFault: types.FileFault{File: clean}})
		}
		var match *regexp.Regexp
		if req.MatchPattern != "" {
			re, err := regexp.Compile(req.MatchPattern)
			if err != nil {
				return simulator.Fault("A specified parameter was not correct: matchPattern", &types.InvalidArgument{InvalidProperty: "matchPattern"})
			}
			match = re
		}
		info := func(n string, e *guestEntry) types.GuestFileInfo {
			return types.GuestFileInfo{Path: n, Type: e.Type, Size: e.Size, Attributes: e.Attrs.vim(t.windows)}
		}
		all := []types.GuestFileInfo{}
		if e.Type == "directory" {
			all = append(all, info(".", e))
			if p := t.get(t.parent(clean)); p != nil {
				all = append(all, info("..", p))
			} else {
				all = append(all, info("..", e))
			}
			for _, c := range t.children(e) {
				all = append(all, info(t.base(c.Path), c))
			}
		} else {
			all = append(all, info(t.base(clean), e))
		}
		if match != nil {
			kept := all[:0]
			for _, f := range all {
				if match.MatchString(f.Path) {
					kept = append(kept, f)
				}
			}
			all = kept
		}
		from := int(req.Index)
		if from > len(all) {
			from = len(all)
		}
		to := len(all)
		if req.MaxResults > 0 && from+int(req.MaxResults) < to {
			to = from + int(req.MaxResults)
		}
		body.Res = &types.ListFilesInGuestResponse{Returnval: types.GuestListFileInfo{Files: all[from:to], Remaining: int32(len(all) - to)}}
		return nil
	})
	return body
}

// serveGuestFiles is GET/POST/DELETE /lab/guest/files?vm=NAME: what is in the
// guest (GET), a file or directory placed there as if the guest had it
// (POST &path=…[&type=directory], body: the content, or a JSON string of it), or a VM's guest file
// system back to its usual folders (DELETE).
func (l *Lab) serveGuestFiles(w http.ResponseWriter, r *http.Request) {
	v := l.vmByName(r.URL.Query().Get("vm"))
	if v == nil {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": "vm must name a lab VM"})
		return
	}
	windows := vmIsWindows(v.Ref)
	g := &l.guest
	switch r.Method {
	case http.MethodGet:
		g.mu.Lock()
		t := g.tree(v.Ref.Value, windows)
		out := []guestEntry{}
		for _, e := range t.entries {
			out = append(out, *e)
		}
		g.mu.Unlock()
		sort.Slice(out, func(i, j int) bool { return out[i].Path < out[j].Path })
		writeJSON(w, http.StatusOK, out)
	case http.MethodPost:
		q := r.URL.Query()
		g.mu.Lock()
		t := g.tree(v.Ref.Value, windows)
		clean, ok := t.clean(q.Get("path"))
		g.mu.Unlock()
		if !ok {
			writeJSON(w, http.StatusBadRequest, map[string]string{"error": "path must be absolute for the guest family"})
			return
		}
		if q.Get("type") == "directory" {
			g.mu.Lock()
			f := t.mkdirAll(clean, false)
			g.mu.Unlock()
			if f != nil {
				writeJSON(w, http.StatusConflict, map[string]string{"error": "a file is in the way"})
				return
			}
			writeJSON(w, http.StatusOK, map[string]string{"path": clean})
			return
		}
		var body io.Reader = r.Body
		if strings.HasPrefix(r.Header.Get("Content-Type"), "application/json") { // a JSON string: its text is the content
			var text string
			if !readJSON(w, r, &text) {
				return
			}
			body = strings.NewReader(text)
		}
		e, err := l.storeGuestFile(v.Name, v.Ref.Value, clean, body, -1, guestAttrs{Kind: map[bool]string{true: "windows", false: "posix"}[windows]})
		if err != nil {
			writeJSON(w, http.StatusBadRequest, map[string]string{"error": err.Error()})
			return
		}
		writeJSON(w, http.StatusOK, e)
	case http.MethodDelete:
		g.mu.Lock()
		delete(g.fs, v.Ref.Value)
		g.mu.Unlock()
		writeJSON(w, http.StatusOK, map[string]bool{"ok": true})
	default:
		writeJSON(w, http.StatusMethodNotAllowed, map[string]string{"error": "GET, POST or DELETE"})
	}
}

// removeLocal forgets the local copy an entry replaced.
func removeLocal(e *guestEntry) {
	if e != nil && e.local != "" {
		_ = os.Remove(e.local)
	}
}
