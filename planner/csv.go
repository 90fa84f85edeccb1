package planner

import (
	"bufio"
	"bytes"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"strconv"
	"strings"
)

// CatalogColumns are the columns of a catalog file, in this order. A
// twelfth column, max_nodes, is optional.
var CatalogColumns = []string{
	"cloud", "instance_type", "gpu_model", "gpu_count", "gpu_memory_gib", "vcpus", "memory_gib",
	"region", "zone", "price_usd_hour", "spot_price_usd_hour",
}

// MaxNodesColumn is the optional twelfth column of a catalog file: how
// many nodes of the row's instance type can be obtained in its zone, for
// each capacity type separately; empty means unlimited.
const MaxNodesColumn = "max_nodes"

// KindColumns are optional columns after max_nodes (all of them or none)
// for capacity kinds beyond on-demand and spot. A row whose capacity_type
// is empty is an on-demand (and spot) row as without them; a row with one
// of reserved, capacity_block, flex_start or calendar yields one offer of
// that kind, spot_price_usd_hour empty, and:
//   - reserved: reservation_id, max_nodes its free instances,
//     price_usd_hour the effective price (empty or 0: already paid for);
//   - capacity_block: reservation_id (the offering), start_time (RFC 3339),
//     duration_hours, max_nodes the instance count and upfront_price the
//     whole block's price; price_usd_hour empty (derived, BlockHourlyPrice);
//   - calendar: reservation_id, start_time, duration_hours, price_usd_hour;
//   - flex_start: max_run_hours, price_usd_hour.
var KindColumns = []string{"capacity_type", "reservation_id", "start_time", "duration_hours", "upfront_price", "max_run_hours"}

// CSVError is a malformed catalog file: it names the file, the 1-based line
// and column, and the column's name when known.
type CSVError struct {
	File   string
	Line   int
	Column int
	Name   string
	Err    error
}

func (e *CSVError) Error() string {
	if e.Name != "" {
		return fmt.Sprintf("%s:%d:%d: column %s: %v", e.File, e.Line, e.Column, e.Name, e.Err)
	}
	return fmt.Sprintf("%s:%d:%d: %v", e.File, e.Line, e.Column, e.Err)
}

func (e *CSVError) Unwrap() error { return e.Err }

// LoadCatalogFile reads a catalog file (see ParseCatalog) and places its
// offers in the embedded region table.
func LoadCatalogFile(path string) (*Catalog, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return ParseCatalog(path, data)
}

// ParseCatalog reads a catalog file's content; name is used in errors.
//
// The file is CSV with the header CatalogColumns, optionally followed by
// max_nodes. Each row yields an on-demand offer and, where
// spot_price_usd_hour is not empty, a spot offer; max_nodes bounds each of
// them separately. Lines starting with '#' are comments; "# date: ..." and
// "# source: ..." comments are kept as the catalog's date and sources.
// Regions must be in the embedded region table, and the interconnect of
// known instance types comes from the embedded instance-type table (PCIe
// otherwise).
func ParseCatalog(name string, data []byte) (*Catalog, error) {
	kinds := embeddedInstanceKinds()
	if offers, ids, meta, ok := fastOffers(data, kinds); ok {
		return buildCatalog(offers, ids, true, embeddedRegions(), meta.date, meta.sources, nil)
	}
	offers, ids, meta, err := readOffers(name, data, kinds)
	if err != nil {
		return nil, err
	}
	return buildCatalog(offers, ids, false, embeddedRegions(), meta.date, meta.sources, nil)
}

type catalogMeta struct {
	date    string
	sources []string
}

func readMeta(data []byte) catalogMeta {
	var m catalogMeta
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		if line := strings.TrimSpace(sc.Text()); strings.HasPrefix(line, "#") {
			m.add(line)
		}
	}
	return m
}

// instanceKind is what the catalog knows about an instance type beyond the
// CSV columns.
type instanceKind struct {
	interconnect Interconnect
	fabric       string
}

// readOffers parses a catalog file into its offers and their IDs (ids[i]
// is offers[i].ID()) with encoding/csv: any file, and every error with its
// line and column. ParseCatalog uses it where fastOffers gives up.
func readOffers(name string, data []byte, kinds map[regionKey]instanceKind) ([]Offer, []string, catalogMeta, error) {
	meta := readMeta(data)
	r := csv.NewReader(bytes.NewReader(data))
	r.Comment = '#'
	r.FieldsPerRecord = -1
	r.ReuseRecord = true
	header, err := r.Read()
	if err != nil {
		return nil, nil, meta, csvReadError(name, err, 1)
	}
	if err := checkHeader(name, r, header); err != nil {
		return nil, nil, meta, err
	}
	hasMaxNodes := len(header) >= len(CatalogColumns)+1
	hasKinds := len(header) == len(CatalogColumns)+1+len(KindColumns)
	// A row is about 50 bytes: size the slices once for files with spot
	// prices on half their rows.
	est := len(data)/50 + 1
	offers := make([]Offer, 0, est)
	ids := make([]string, 0, est)
	firstLine := make(map[string]int, est)
	var row [2]Offer
	for {
		rec, err := r.Read()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, nil, meta, csvReadError(name, err, 0)
		}
		line, _ := r.FieldPos(0)
		if len(rec) != len(header) {
			return nil, nil, meta, &CSVError{File: name, Line: line, Column: 1,
				Err: fmt.Errorf("has %d fields, the header has %d", len(rec), len(header))}
		}
		n, err := parseRow(name, r, rec, hasMaxNodes, hasKinds, kinds, &row)
		if err != nil {
			return nil, nil, meta, err
		}
		for _, o := range row[:n] {
			id := o.ID()
			if prev, dup := firstLine[id]; dup {
				return nil, nil, meta, &CSVError{File: name, Line: line, Column: 1,
					Err: fmt.Errorf("offer %s is already defined on line %d", id, prev)}
			}
			firstLine[id] = line
			offers = append(offers, o)
			ids = append(ids, id)
		}
	}
	return offers, ids, meta, nil
}

func csvReadError(name string, err error, line int) error {
	var pe *csv.ParseError
	if errors.As(err, &pe) {
		return &CSVError{File: name, Line: pe.Line, Column: pe.Column, Err: pe.Err}
	}
	if err == io.EOF {
		err = errors.New("file is empty; expected the header " + strings.Join(CatalogColumns, ","))
	}
	return &CSVError{File: name, Line: line, Column: 1, Err: err}
}

func checkHeader(name string, r *csv.Reader, header []string) error {
	want := CatalogColumns
	for i := range max(len(header), len(want)) {
		var got string
		if i < len(header) {
			got = strings.TrimSpace(header[i])
		}
		switch {
		case i < len(want) && got == want[i]:
			continue
		case i == len(want) && got == MaxNodesColumn:
			continue
		case i > len(want) && i-len(want)-1 < len(KindColumns) && got == KindColumns[i-len(want)-1] &&
			len(header) == len(want)+1+len(KindColumns):
			continue
		}
		line, col := 1, 1
		if i < len(header) {
			line, col = r.FieldPos(i)
		}
		expected := "no more columns (optional last column: max_nodes)"
		switch {
		case i < len(want):
			expected = fmt.Sprintf("column %q", want[i])
		case i > len(want) && i-len(want)-1 < len(KindColumns):
			expected = fmt.Sprintf("column %q (the capacity kind columns come all together)", KindColumns[i-len(want)-1])
		}
		return &CSVError{File: name, Line: line, Column: col,
			Err: fmt.Errorf("header field %d is %q, expected %s; the header must be %s[,%s[,%s]]",
				i+1, got, expected, strings.Join(want, ","), MaxNodesColumn, strings.Join(KindColumns, ","))}
	}
	return nil
}

// parseRow turns one record into its on-demand offer and, where priced, its
// spot offer: it fills out[0] and out[1] and returns how many it filled.
func parseRow(name string, r *csv.Reader, rec []string, hasMaxNodes, hasKinds bool, kinds map[regionKey]instanceKind, out *[2]Offer) (int, error) {
	fail := func(i int, format string, args ...any) error {
		line, col := r.FieldPos(i)
		return &CSVError{File: name, Line: line, Column: col, Name: columnName(i), Err: fmt.Errorf(format, args...)}
	}
	field := func(i int) string { return strings.TrimSpace(rec[i]) }
	if hasKinds && field(12) == "" {
		for i := 13; i < len(rec); i++ {
			if field(i) != "" {
				return 0, fail(i, "is %q on a row with no capacity_type; set capacity_type or leave it empty", field(i))
			}
		}
	}
	for _, i := range []int{0, 1, 2, 7} {
		if field(i) == "" {
			return 0, fail(i, "is empty")
		}
	}
	gpuCount, err := strconv.Atoi(field(3))
	if err != nil || gpuCount <= 0 {
		return 0, fail(3, "%q is not a positive whole number of GPUs (fractional GPUs are not supported)", field(3))
	}
	number := func(i int, what string, allowEmpty bool) (float64, bool, error) {
		s := field(i)
		if s == "" {
			if allowEmpty {
				return 0, false, nil
			}
			return 0, false, fail(i, "is empty; expected %s", what)
		}
		v, err := strconv.ParseFloat(s, 64)
		if err != nil || math.IsNaN(v) || math.IsInf(v, 0) || v < 0 {
			return 0, false, fail(i, "%q is not %s", s, what)
		}
		return v, true, nil
	}
	gpuMem, _, err := number(4, "a non-negative number of GiB", false)
	if err != nil {
		return 0, err
	}
	vcpus, err := strconv.Atoi(field(5))
	if err != nil || vcpus < 0 {
		return 0, fail(5, "%q is not a non-negative whole number of vCPUs", field(5))
	}
	mem, _, err := number(6, "a non-negative number of GiB", false)
	if err != nil {
		return 0, err
	}
	kind := CapacityType("")
	if hasKinds {
		kind = CapacityType(field(12))
		if kind != "" && (!kind.known() || kind == OnDemand || kind == Spot) {
			return 0, fail(12, "%q is not empty (on-demand and spot from the price columns) or one of reserved, capacity_block, flex_start, calendar", field(12))
		}
	}
	var price, spot float64
	var hasSpot bool
	switch kind {
	case "":
		if price, _, err = number(9, "a positive price in USD per hour", false); err != nil {
			return 0, err
		}
		if price == 0 {
			return 0, fail(9, "is 0; expected a positive price in USD per hour")
		}
		if spot, hasSpot, err = number(10, "empty or a positive price in USD per hour", true); err != nil {
			return 0, err
		}
		if hasSpot && spot == 0 {
			return 0, fail(10, "is 0; expected empty (no spot offer) or a positive price in USD per hour")
		}
	case Reserved:
		if price, _, err = number(9, "empty or 0 (already paid for) or an effective price in USD per hour", true); err != nil {
			return 0, err
		}
	case CapacityBlock:
		if field(9) != "" {
			return 0, fail(9, "is %q; a capacity_block row leaves it empty (the hourly price is upfront_price over its nodes and hours)", field(9))
		}
	default:
		if price, _, err = number(9, "a positive price in USD per hour", false); err != nil {
			return 0, err
		}
	}
	if kind != "" && field(10) != "" {
		return 0, fail(10, "is %q; a %s row has no spot price", field(10), kind)
	}
	maxNodes := Unlimited
	if hasMaxNodes && field(11) != "" {
		n, err := strconv.Atoi(field(11))
		if err != nil || n < 0 {
			return 0, fail(11, "%q is not empty (unlimited) or a non-negative whole number of nodes", field(11))
		}
		maxNodes = n
	}
	cloud := strings.ToLower(field(0))
	ik, ok := kinds[regionKey{cloud, field(1)}]
	if !ok {
		ik = instanceKind{interconnect: PCIe}
	}
	base := Offer{
		Cloud: cloud, InstanceType: field(1), GPUModel: field(2), GPUCount: gpuCount, GPUMemoryGiB: gpuMem,
		VCPUs: vcpus, MemoryGiB: mem, Region: field(7), Zone: field(8), CapacityType: OnDemand,
		PriceUSDHour: price, MaxNodes: maxNodes, Interconnect: ik.interconnect, Fabric: ik.fabric,
	}
	if _, known := embeddedRegionIndex()[regionKey{cloud, base.Region}]; !known {
		return 0, fail(7, "region %q is not a known %s region (known: %s)", base.Region, cloud, knownRegionsOf(cloud))
	}
	if kind != "" {
		if err := parseKindFields(rec, &base, kind, fail); err != nil {
			return 0, err
		}
	}
	out[0] = base
	if !hasSpot {
		return 1, nil
	}
	out[1] = base
	out[1].CapacityType = Spot
	out[1].PriceUSDHour = spot
	return 2, nil
}

func columnName(i int) string {
	switch {
	case i < len(CatalogColumns):
		return CatalogColumns[i]
	case i == len(CatalogColumns):
		return MaxNodesColumn
	}
	return KindColumns[i-len(CatalogColumns)-1]
}

// parseKindFields reads the capacity kind columns of a row of kind k into
// o and checks the offer as NewCatalog will, so that a mistake is reported
// at its line and column.
func parseKindFields(rec []string, o *Offer, k CapacityType, fail func(int, string, ...any) error) error {
	field := func(i int) string { return strings.TrimSpace(rec[i]) }
	o.CapacityType, o.ReservationID, o.StartTime = k, field(13), field(14)
	whole := func(i int, dst *int) error {
		if field(i) == "" {
			return nil
		}
		n, err := strconv.Atoi(field(i))
		if err != nil || n <= 0 {
			return fail(i, "%q is not a positive whole number of hours", field(i))
		}
		*dst = n
		return nil
	}
	if err := whole(15, &o.DurationHours); err != nil {
		return err
	}
	if s := field(16); s != "" {
		v, err := strconv.ParseFloat(s, 64)
		if err != nil || !(v > 0) || math.IsInf(v, 0) {
			return fail(16, "%q is not a positive price in USD", s)
		}
		o.UpfrontUSD = v
	}
	if err := whole(17, &o.MaxRunHours); err != nil {
		return err
	}
	if err := o.fillDerived(); err != nil {
		return fail(14, "%v", errors.Unwrap(err))
	}
	if err := o.validate(); err != nil {
		return fail(12, "%v", err)
	}
	return nil
}

func knownRegionsOf(cloud string) string {
	var names []string
	for _, r := range embeddedRegions() {
		if r.Cloud == cloud {
			names = append(names, r.Name)
		}
	}
	if len(names) == 0 {
		return "none; clouds are aws, gcp and azure"
	}
	return strings.Join(names, ", ")
}
