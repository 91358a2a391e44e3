package main

import (
	"archive/zip"
	"encoding/xml"
	"fmt"
	"os"
	"strings"
	"time"
)

// vssFile is one file entry of a writer component: DATABASE_FILES,
// DATABASE_LOGFILES or FILE_LIST in the Writer Metadata Document.
type vssFile struct {
	element   string // "DATABASE_FILES", "DATABASE_LOGFILES" or "FILE_LIST"
	path      string // folder in the guest, e.g. `C:\Windows\NTDS`
	filespec  string // file name or pattern, e.g. "ntds.dit", "*.log"
	recursive bool   // FILE_LIST only
}

// vssComponent is a writer component: a DATABASE or a FILE_GROUP.
type vssComponent struct {
	database    bool
	logicalPath string
	name        string
	caption     string
	selectable  bool
	files       []vssFile
}

// vssWriter is a VSS writer as the guest reports it (vssadmin list writers;
// the ids are Windows' own, the instance ids this lab's).
type vssWriter struct {
	name, id, instance string
	usage, dataSource  string
	components         []vssComponent
}

func dbFiles(path, spec string) vssFile {
	return vssFile{element: "DATABASE_FILES", path: path, filespec: spec}
}
func logFiles(path, spec string) vssFile {
	return vssFile{element: "DATABASE_LOGFILES", path: path, filespec: spec}
}
func fileList(path, spec string, recursive bool) vssFile {
	return vssFile{element: "FILE_LIST", path: path, filespec: spec, recursive: recursive}
}

// systemWriters are the in-box writers of every Windows Server guest.
var systemWriters = []vssWriter{
	{name: "System Writer", id: "e8132975-6f93-4464-a53e-1050253ae220", instance: "7d2a7b1c-0f7e-4a51-9a1e-5d0b3c2e9f10",
		usage: "BOOTABLE_SYSTEM_STATE", dataSource: "OTHER",
		components: []vssComponent{{name: "System Files", selectable: true, files: []vssFile{
			fileList(`C:\Windows\System32`, "*", true),
			fileList(`C:\Windows\SysWOW64`, "*", true),
		}}}},
	{name: "Registry Writer", id: "afbab4a2-367d-4d15-a586-71dbb18f8485", instance: "2c6d1f0a-8b3e-4c7d-9e15-3a4b5c6d7e81",
		usage: "BOOTABLE_SYSTEM_STATE", dataSource: "OTHER",
		components: []vssComponent{{name: "Registry", selectable: true, files: []vssFile{
			fileList(`C:\Windows\system32\config`, "*", false),
		}}}},
	{name: "WMI Writer", id: "a6ad56c2-b509-4e6c-bb19-49d8f43532f0", instance: "5e8f9a0b-1c2d-4e3f-8a4b-6c7d8e9f0a12",
		usage: "SYSTEM_SERVICE", dataSource: "OTHER",
		components: []vssComponent{{name: "WMI", selectable: true, files: []vssFile{
			fileList(`C:\Windows\system32\wbem\repository`, "*.*", true),
		}}}},
}

// ntdsWriter: a domain controller's Active Directory database (Windows' NTDS
// writer as documented in "In-Box VSS Writers").
func ntdsWriter() vssWriter {
	return vssWriter{name: "NTDS", id: "b2014c9e-8711-4c5c-a5a9-3cf384484757", instance: "9f3c2b1a-4d5e-4f60-8172-93a4b5c6d7e8",
		usage: "SYSTEM_SERVICE", dataSource: "TRANSACTION_DB",
		components: []vssComponent{{database: true, logicalPath: "C:_Windows_NTDS", name: "ntds", files: []vssFile{
			dbFiles(`C:\Windows\NTDS`, "ntds.dit"),
			logFiles(`C:\Windows\NTDS`, "*.log"),
		}}}}
}

// exchangeWriter: a mailbox server with one mailbox database (component name
// the database's GUID, its files in the database's folder).
func exchangeWriter(vm string) vssWriter {
	dir := `C:\Program Files\Microsoft\Exchange Server\V15\Mailbox\Mailbox Database 0123456789`
	return vssWriter{name: "Microsoft Exchange Writer", id: "76fe1ac4-15f7-4bcd-987e-8e1acb462fb7", instance: "4b1e2d3c-5f6a-4b7c-8d9e-0f1a2b3c4d5e",
		usage: "USER_DATA", dataSource: "TRANSACTION_DB",
		components: []vssComponent{{database: true, logicalPath: `Microsoft Exchange Server\Microsoft Information Store\` + strings.ToUpper(vm),
			name: "2f3e4d5c-6b7a-4988-a7b6-c5d4e3f2a1b0", caption: "Mailbox Database 0123456789", selectable: true, files: []vssFile{
				dbFiles(dir, "Mailbox Database 0123456789.edb"),
				logFiles(dir, "E00*.log"),
			}}}}
}

// sqlWriter: SQL Server's default instance with its system databases and one application database.
func sqlWriter(vm string) vssWriter {
	data := `C:\Program Files\Microsoft SQL Server\MSSQL15.MSSQLSERVER\MSSQL\DATA`
	instance := strings.ToUpper(vm)
	db := func(name, mdf, ldf, dataDir, logDir string) vssComponent {
		return vssComponent{database: true, logicalPath: instance, name: name, selectable: true,
			files: []vssFile{dbFiles(dataDir, mdf), logFiles(logDir, ldf)}}
	}
	return vssWriter{name: "SqlServerWriter", id: "a65faa63-5ea8-4ebc-9dbd-a0c4db26912a", instance: "0a1b2c3d-4e5f-4a6b-9c8d-7e6f5a4b3c2d",
		usage: "USER_DATA", dataSource: "TRANSACTION_DB",
		components: []vssComponent{
			db("master", "master.mdf", "mastlog.ldf", data, data),
			db("model", "model.mdf", "modellog.ldf", data, data),
			db("msdb", "MSDBData.mdf", "MSDBLog.ldf", data, data),
			db("AppDb", "AppDb.mdf", "AppDb_log.ldf", `D:\SQLData`, `D:\SQLLogs`),
		}}
}

// vssWritersFor returns the writers of a Windows guest: the in-box ones plus
// NTDS for a domain controller (name "dc…"), Exchange for a mail server
// ("mail…") and SQL Server for every other (an application server).
func vssWritersFor(vm string) []vssWriter {
	ws := append([]vssWriter{}, systemWriters...)
	switch n := strings.ToLower(vm); {
	case strings.HasPrefix(n, "dc"):
		ws = append(ws, ntdsWriter())
	case strings.HasPrefix(n, "mail"):
		ws = append(ws, exchangeWriter(vm))
	default:
		ws = append(ws, sqlWriter(vm))
	}
	return ws
}

var vssBackupTypes = map[int]string{1: "FULL", 2: "INCREMENTAL", 3: "DIFFERENTIAL", 4: "LOG", 5: "COPY", 6: "OTHER"}

// writeVSSManifest writes the vss-manifest.zip VMware Tools leaves after a
// quiesced snapshot of a Windows guest: backupComponents.xml (the VSS Backup
// Components Document: backup type, each writer's components that took part)
// and, when the writers took part, one Writer Metadata Document per writer
// (WRITER_METADATA: identity and BACKUP_LOCATIONS, the components with their
// database, log and plain files). Without writer manifests the snapshot is
// only file-system consistent.
func writeVSSManifest(path, vm string, backupType int, context string, writers bool) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	defer f.Close()
	z := zip.NewWriter(f)
	setID := strings.ToUpper(newCBTUUID()[:8]) + "-LAB"
	ws := vssWritersFor(vm)
	var comps strings.Builder
	if writers {
		for _, w := range ws {
			fmt.Fprintf(&comps, `<WRITER_COMPONENTS instanceId="{%s}" writerId="{%s}">`, w.instance, w.id)
			for _, c := range w.components {
				fmt.Fprintf(&comps, `<COMPONENT logicalPath="%s" componentName="%s" componentType="%s" backupSucceeded="yes"/>`,
					xmlAttr(c.logicalPath), xmlAttr(c.name), componentType(c))
			}
			comps.WriteString(`</WRITER_COMPONENTS>`)
		}
	}
	bc, _ := z.Create("backupComponents.xml")
	fmt.Fprintf(bc, `<?xml version="1.0"?>
<BACKUP_COMPONENTS xmlns="x-schema:#VssComponentMetadata" version="1.2" bootableSystemStateBackup="no" selectComponents="yes" backupType="%s" partialFileSupport="no" snapshotSetId="{%s}" context="%s" computer="%s" created="%s">%s</BACKUP_COMPONENTS>
`, vssBackupTypes[backupType], setID, xmlAttr(context), xmlAttr(vm), time.Now().UTC().Format(time.RFC3339), comps.String())
	if writers {
		for i, w := range ws {
			wf, _ := z.Create(fmt.Sprintf("writer%d.xml", i))
			fmt.Fprint(wf, writerMetadata(w))
		}
	}
	return z.Close()
}

// writerMetadata is a writer's Writer Metadata Document (what
// IVssExamineWriterMetadata::SaveAsXML gives).
func writerMetadata(w vssWriter) string {
	var b strings.Builder
	fmt.Fprintf(&b, `<?xml version="1.0"?>
<WRITER_METADATA xmlns="x-schema:#VssWriterMetadataInfo" version="1.2"><IDENTIFICATION writerId="{%s}" instanceId="{%s}" friendlyName="%s" usage="%s" dataSource="%s"/><BACKUP_LOCATIONS>`,
		w.id, w.instance, xmlAttr(w.name), w.usage, w.dataSource)
	for _, c := range w.components {
		el := "FILE_GROUP"
		if c.database {
			el = "DATABASE"
		}
		fmt.Fprintf(&b, `<%s logicalPath="%s" componentName="%s" caption="%s" restoreMetadata="no" notifyOnBackupComplete="no" selectable="%s" selectableForRestore="%s" componentFlags="3">`,
			el, xmlAttr(c.logicalPath), xmlAttr(c.name), xmlAttr(c.caption), yesNo(c.selectable), yesNo(c.selectable))
		for _, f := range c.files {
			if f.element == "FILE_LIST" {
				fmt.Fprintf(&b, `<FILE_LIST path="%s" filespec="%s" recursive="%s" filespecBackupType="3855"/>`, xmlAttr(f.path), xmlAttr(f.filespec), yesNo(f.recursive))
			} else {
				fmt.Fprintf(&b, `<%s path="%s" filespec="%s" filespecBackupType="3855"/>`, f.element, xmlAttr(f.path), xmlAttr(f.filespec))
			}
		}
		fmt.Fprintf(&b, `</%s>`, el)
	}
	b.WriteString(`</BACKUP_LOCATIONS><RESTORE_METHOD method="RESTORE_IF_CAN_REPLACE" writerRestore="always" rebootRequired="no"/></WRITER_METADATA>
`)
	return b.String()
}

func componentType(c vssComponent) string {
	if c.database {
		return "database"
	}
	return "filegroup"
}

func yesNo(v bool) string {
	if v {
		return "yes"
	}
	return "no"
}

func xmlAttr(s string) string {
	var b strings.Builder
	_ = xml.EscapeText(&b, []byte(s))
	return b.String()
}
