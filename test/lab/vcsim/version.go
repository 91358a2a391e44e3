package main

import (
	"github.com/vmware/govmomi/simulator"
	"github.com/vmware/govmomi/vim25"
	"github.com/vmware/govmomi/vim25/types"
)

// The vCenter release the lab presents itself as. vcsim 0.24.2 answers
// ServiceContent.about as vCenter 6.5; Stillpoint's plugin manifest requires
// 7.0 or later, so the lab says it is a current vCenter 8.0 Update 2.
const (
	labVcenterVersion = "8.0.2"
	labVcenterBuild   = "22617221"
	labAPIVersion     = "8.0.2.0"
)

// presentAsCurrentVcenter rewrites ServiceContent.about (RetrieveServiceContent,
// /sdk/vimServiceVersions.xml) and the lab's in-process client's copy.
func presentAsCurrentVcenter(l *Lab) {
	set := func(a *types.AboutInfo) {
		a.Version = labVcenterVersion
		a.Build = labVcenterBuild
		a.ApiVersion = labAPIVersion
		a.FullName = "VMware vCenter Server " + labVcenterVersion + " build-" + labVcenterBuild
		a.LicenseProductVersion = "8.0"
	}
	if si, ok := simulator.Map.Get(vim25.ServiceInstance).(*simulator.ServiceInstance); ok {
		simulator.Map.WithLock(si, func() { set(&si.Content.About) })
	}
	set(&l.client.ServiceContent.About)
}
