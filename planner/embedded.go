package planner

import (
	"bytes"
	_ "embed"
	"encoding/csv"
	"fmt"
	"sync"
)

// The embedded catalog: a dated snapshot built by tools/catalogbuild from
// the sources named in the files' comments.
var (
	//go:embed data/offers.csv
	embeddedOffersCSV []byte
	//go:embed data/regions.csv
	embeddedRegionsCSV []byte
	//go:embed data/instance_types.csv
	embeddedInstanceTypesCSV []byte
)

// Embedded returns the catalog built into this package. It is parsed once;
// callers must not modify it.
func Embedded() *Catalog { return embeddedCatalog() }

var embeddedCatalog = sync.OnceValue(func() *Catalog {
	c, err := ParseCatalog("embedded:data/offers.csv", embeddedOffersCSV)
	if err != nil {
		panic(fmt.Sprintf("planner: embedded catalog is invalid: %v", err))
	}
	return c
})

// EmbeddedRegions returns the embedded region → country → jurisdiction table.
func EmbeddedRegions() []Region { return append([]Region(nil), embeddedRegions()...) }

var embeddedRegions = sync.OnceValue(func() []Region {
	recs := mustReadCSV("data/regions.csv", embeddedRegionsCSV, []string{"cloud", "region", "location", "country", "jurisdiction", "continent"})
	out := make([]Region, 0, len(recs))
	for _, r := range recs {
		out = append(out, Region{Cloud: r[0], Name: r[1], Location: r[2], Country: r[3], Jurisdiction: r[4], Continent: r[5]})
	}
	return out
})

// regionKey is a cloud and one of its regions (or instance types, for the
// instance-kind table): a map key built without concatenating strings.
type regionKey struct{ cloud, name string }

var embeddedRegionIndex = sync.OnceValue(func() map[regionKey]Region {
	m := make(map[regionKey]Region)
	for _, r := range embeddedRegions() {
		m[regionKey{r.Cloud, r.Name}] = r
	}
	return m
})

var embeddedInstanceKinds = sync.OnceValue(func() map[regionKey]instanceKind {
	recs := mustReadCSV("data/instance_types.csv", embeddedInstanceTypesCSV, []string{"cloud", "instance_type", "interconnect", "fabric"})
	m := make(map[regionKey]instanceKind, len(recs))
	for _, r := range recs {
		ic := Interconnect(r[2])
		if ic.Rank() < 0 {
			panic(fmt.Sprintf("planner: data/instance_types.csv: %s/%s has unknown interconnect %q", r[0], r[1], r[2]))
		}
		m[regionKey{r[0], r[1]}] = instanceKind{interconnect: ic, fabric: r[3]}
	}
	return m
})

// mustReadCSV reads an embedded table; a malformed table is a build defect,
// caught by the package's tests.
func mustReadCSV(name string, data []byte, header []string) [][]string {
	r := csv.NewReader(bytes.NewReader(data))
	r.Comment = '#'
	r.FieldsPerRecord = len(header)
	recs, err := r.ReadAll()
	if err != nil {
		panic(fmt.Sprintf("planner: embedded %s: %v", name, err))
	}
	if len(recs) == 0 || fmt.Sprint(recs[0]) != fmt.Sprint(header) {
		panic(fmt.Sprintf("planner: embedded %s: header must be %v", name, header))
	}
	return recs[1:]
}
