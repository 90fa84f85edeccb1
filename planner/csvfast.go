package planner

import (
	"bytes"
	"hash/maphash"
	"math"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"unsafe"
)

// fastOffers is readOffers for the files catalogs almost always are: no
// quotes, no carriage returns, ASCII at both ends of every field. It splits lines and fields itself, parses
// numbers straight from the file's bytes with the same strconv functions
// and checks as parseRow, keeps each distinct name once and builds the
// offer IDs in a few large blocks, so a row costs no allocation of its own.
// A large file's rows are read in two halves at once (see fastSplitBytes),
// each half with its own names, into one table of IDs.
//
// ok is false when the file is outside that form or has any error at all:
// readOffers then reads it again with encoding/csv, which reports the first
// error with its line and column. When ok, the offers, IDs and metadata
// are those readOffers' encoding/csv path returns, and the offers are
// valid, unique and in the embedded region table (buildCatalog need not
// check them again).
func fastOffers(data []byte, kinds map[regionKey]instanceKind) (offers []Offer, ids []string, meta catalogMeta, ok bool) {
	if bytes.IndexByte(data, '"') >= 0 || bytes.IndexByte(data, '\r') >= 0 {
		return nil, nil, meta, false
	}
	// The header is the first line that is not empty or a comment.
	var (
		fields [maxCatalogFields][]byte
		n      int
		body   []byte
	)
	for rest := data; ; {
		if len(rest) == 0 {
			return nil, nil, meta, false
		}
		var line []byte
		line, rest = nextLine(rest)
		if len(line) >= 64<<10 {
			return nil, nil, meta, false
		}
		if len(line) == 0 {
			continue
		}
		if line[0] == '#' {
			meta.add(string(line))
			continue
		}
		if n, ok = splitFields(line, &fields); !ok || n < len(CatalogColumns) {
			return nil, nil, meta, false
		}
		body = rest
		break
	}
	for i := range n {
		if i < len(CatalogColumns) && string(fields[i]) == CatalogColumns[i] || i == len(CatalogColumns) && string(fields[i]) == MaxNodesColumn {
			continue
		}
		return nil, nil, meta, false
	}
	hasMaxNodes := n == len(CatalogColumns)+1
	regions := embeddedRegionIndex()
	// A row makes at most two offers: the table never fills.
	rows := bytes.Count(body, []byte{'\n'}) + 1
	seen := newIDSet(rows)
	parts := [][]byte{body}
	if len(body) >= fastSplitBytes && runtime.GOMAXPROCS(0) > 1 {
		if i := bytes.IndexByte(body[len(body)/2:], '\n'); i >= 0 {
			mid := len(body)/2 + i + 1
			parts = [][]byte{body[:mid], body[mid:]}
		}
	}
	// The halves fill the two ends of one pair of slices, sized for the
	// file's offers; the second half then moves down to the end of the
	// first. A half with more offers than its room grows a slice of its own.
	// Room for a spot offer on half the rows and a little more, so that
	// neither half runs out where the file is just so.
	room := func(rows int) int { return rows + rows/2 + rows/16 }
	est := room(rows)
	allOffers, allIDs := make([]Offer, est), make([]string, est)
	chunks := make([]fastChunk, len(parts))
	at := 0
	for i, part := range parts {
		r := est - at
		if i < len(parts)-1 {
			r = min(r, room(bytes.Count(part, []byte{'\n'})))
		}
		chunks[i].offers, chunks[i].ids, chunks[i].room = allOffers[at:at:at+r], allIDs[at:at:at+r], r
		at += r
	}
	var wg sync.WaitGroup
	for i := 1; i < len(parts); i++ {
		wg.Go(func() { chunks[i].read(parts[i], n, hasMaxNodes, kinds, regions, &seen) })
	}
	chunks[0].read(parts[0], n, hasMaxNodes, kinds, regions, &seen)
	wg.Wait()
	total, grew := 0, false
	for i := range chunks {
		c := &chunks[i]
		if !c.ok {
			return nil, nil, meta, false
		}
		total += len(c.offers)
		grew = grew || cap(c.offers) != c.room || cap(c.ids) != c.room
		for _, line := range c.comments {
			meta.add(line)
		}
	}
	if grew { // a half outgrew its room: one new pair of slices
		allOffers, allIDs = make([]Offer, total), make([]string, total)
	}
	at = 0
	for i := range chunks {
		at += copy(allOffers[at:], chunks[i].offers) // the first half's is in place
		copy(allIDs[at-len(chunks[i].ids):], chunks[i].ids)
	}
	return allOffers[:total], allIDs[:total], meta, true
}

// fastSplitBytes is the size from which fastOffers reads a file's rows in
// two halves at once (a variable so that tests split small files too).
var fastSplitBytes = 256 << 10

// fastChunk is what fastOffers read from consecutive rows of a file.
type fastChunk struct {
	names    stringTable
	offers   []Offer
	ids      []string
	comments []string // comment lines, in order, for catalogMeta.add
	room     int      // the capacity fastOffers gave offers and ids
	ok       bool
}

// read parses the rows of body (whole lines after the header, which has
// nfields fields) onto c's slices; c.ok is false where fastOffers must give
// up.
func (c *fastChunk) read(body []byte, nfields int, hasMaxNodes bool, kinds map[regionKey]instanceKind, regions map[regionKey]Region, seen *idSet) {
	var fields [maxCatalogFields][]byte
	for rest := body; len(rest) > 0; {
		var line []byte
		line, rest = nextLine(rest)
		// readMeta reads lines with bufio.Scanner, which stops at a line
		// of 64 KiB or more.
		if len(line) >= 64<<10 {
			return
		}
		if len(line) == 0 {
			continue
		}
		if line[0] == '#' {
			c.comments = append(c.comments, string(line))
			continue
		}
		n, ok := splitFields(line, &fields)
		if !ok || n != nfields || !c.names.row(&fields, hasMaxNodes, kinds, regions, seen, &c.offers, &c.ids) {
			return
		}
	}
	c.ok = true
}

// nextLine cuts the first line (without its newline) off rest.
func nextLine(rest []byte) (line, after []byte) {
	if i := bytes.IndexByte(rest, '\n'); i >= 0 {
		return rest[:i], rest[i+1:]
	}
	return rest, nil
}

// splitFields splits a record line at its commas into f, each field
// trimmed; false where encoding/csv or readMeta would read the line
// otherwise (a comment after white space, a field that may begin or end in
// Unicode white space) or it has too many fields.
func splitFields(line []byte, f *[maxCatalogFields][]byte) (int, bool) {
	// encoding/csv reads this line as a record, readMeta as a comment.
	if t, ok := trimASCII(line); !ok || (len(t) > 0 && t[0] == '#') {
		return 0, false
	}
	n := 0
	for {
		if n == len(f) {
			return 0, false
		}
		i := bytes.IndexByte(line, ',')
		if i < 0 {
			f[n] = line
			n++
			break
		}
		f[n], line = line[:i], line[i+1:]
		n++
	}
	for i := range n {
		t, ok := trimASCII(f[i])
		if !ok {
			return 0, false
		}
		f[i] = t
	}
	return n, true
}

// maxCatalogFields is len(CatalogColumns) with max_nodes.
const maxCatalogFields = 12

// add is readMeta's treatment of one comment line.
func (m *catalogMeta) add(line string) {
	key, value, ok := strings.Cut(strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(line), "#")), ":")
	if !ok {
		return
	}
	switch strings.TrimSpace(key) {
	case "date":
		m.date = strings.TrimSpace(value)
	case "source":
		m.sources = append(m.sources, strings.TrimSpace(value))
	}
}

// row parses one record as parseRow does and appends its offers and IDs;
// false for anything parseRow or readOffers would refuse.
func (t *stringTable) row(f *[maxCatalogFields][]byte, hasMaxNodes bool, kinds map[regionKey]instanceKind,
	regions map[regionKey]Region, seen *idSet, offers *[]Offer, ids *[]string) bool {
	for _, i := range []int{0, 1, 2, 7} {
		if len(f[i]) == 0 {
			return false
		}
	}
	gpuCount, err := strconv.Atoi(view(f[3]))
	if err != nil || gpuCount <= 0 {
		return false
	}
	vcpus, err := strconv.Atoi(view(f[5]))
	if err != nil || vcpus < 0 {
		return false
	}
	gpuMem, ok := number(f[4])
	if !ok {
		return false
	}
	mem, ok := number(f[6])
	if !ok {
		return false
	}
	price, ok := number(f[9])
	if !ok || price == 0 {
		return false
	}
	var spot float64
	hasSpot := len(f[10]) > 0
	if hasSpot {
		if spot, ok = number(f[10]); !ok || spot == 0 {
			return false
		}
	}
	maxNodes := Unlimited
	if hasMaxNodes && len(f[11]) > 0 {
		n, err := strconv.Atoi(view(f[11]))
		if err != nil || n < 0 {
			return false
		}
		maxNodes = n
	}
	cloud := t.lower(f[0])
	inst := t.instanceType(f[1])
	region, zone, model := t.intern(f[7]), t.intern(f[8]), t.intern(f[2])
	if _, known := regions[regionKey{cloud, region}]; !known {
		return false
	}
	kind, found := kinds[regionKey{cloud, inst}]
	if !found {
		kind = instanceKind{interconnect: PCIe}
	}
	base := Offer{
		Cloud: cloud, InstanceType: inst, GPUModel: model, GPUCount: gpuCount, GPUMemoryGiB: gpuMem,
		VCPUs: vcpus, MemoryGiB: mem, Region: region, Zone: zone, CapacityType: OnDemand,
		PriceUSDHour: price, MaxNodes: maxNodes, Interconnect: kind.interconnect, Fabric: kind.fabric,
	}
	if !t.add(base, seen, offers, ids) {
		return false
	}
	if !hasSpot {
		return true
	}
	base.CapacityType, base.PriceUSDHour = Spot, spot
	return t.add(base, seen, offers, ids)
}

// add appends o and its ID; false if the ID may already be taken.
func (t *stringTable) add(o Offer, seen *idSet, offers *[]Offer, ids *[]string) bool {
	id := t.id(&o)
	if !seen.insert(id) {
		return false
	}
	*offers = append(*offers, o)
	*ids = append(*ids, id)
	return true
}

// idSet holds the hashes of the offer IDs read so far, in an open-addressed
// table: cheaper than a map of the IDs themselves, and exact enough, since
// two IDs with one hash only make fastOffers give up. Its slots are set
// with compare-and-swap, so the halves of a file read at once share it.
type idSet struct {
	seed  maphash.Seed
	slots []atomic.Uint64 // 0 is empty
}

// newIDSet makes a table for the offers of rows lines: at most two a row,
// in at least three slots a row, so it is never full.
func newIDSet(rows int) idSet {
	size := 16
	for size < 3*rows {
		size *= 2
	}
	return idSet{seed: maphash.MakeSeed(), slots: make([]atomic.Uint64, size)}
}

// insert adds id's hash; false if it was there.
func (s *idSet) insert(id string) bool {
	h := max(maphash.String(s.seed, id), 1)
	mask := uint64(len(s.slots) - 1)
	for i := h & mask; ; i = (i + 1) & mask {
		switch s.slots[i].Load() {
		case h:
			return false
		case 0:
			if s.slots[i].CompareAndSwap(0, h) {
				return true
			}
			if s.slots[i].Load() == h { // the other half put it first
				return false
			}
		}
	}
}

// number is parseRow's number for a non-empty field.
func number(b []byte) (float64, bool) {
	if len(b) == 0 {
		return 0, false
	}
	v, err := strconv.ParseFloat(view(b), 64)
	if err != nil || math.IsNaN(v) || math.IsInf(v, 0) || v < 0 {
		return 0, false
	}
	return v, true
}

// view is b as a string without copying, for strconv and map look-ups
// that do not keep it.
func view(b []byte) string { return unsafe.String(unsafe.SliceData(b), len(b)) }

// trimASCII is strings.TrimSpace for fields that begin and end in ASCII;
// false when an end is not ASCII (it might be Unicode white space).
func trimASCII(b []byte) ([]byte, bool) {
	for len(b) > 0 && asciiSpace(b[0]) {
		b = b[1:]
	}
	for len(b) > 0 && asciiSpace(b[len(b)-1]) {
		b = b[:len(b)-1]
	}
	if len(b) > 0 && (b[0] >= 0x80 || b[len(b)-1] >= 0x80) {
		return b, false
	}
	return b, true
}

func asciiSpace(c byte) bool {
	return c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r'
}

// stringTable keeps each distinct name of a catalog file once (instance
// types, often one per row, are only shared with the row before) and holds
// the strings it makes (names and offer IDs) in blocks of at least 64 KiB:
// strings are never moved once made, so they may point into a block.
type stringTable struct {
	index    map[string]string
	lowered  map[string]string
	lastInst string
	block    []byte
}

// intern returns the one copy of b.
func (t *stringTable) intern(b []byte) string {
	if s, ok := t.index[view(b)]; ok {
		return s
	}
	if t.index == nil {
		t.index = make(map[string]string)
	}
	s := t.copy(b)
	t.index[s] = s
	return s
}

// lower is intern of strings.ToLower(b), for the cloud column.
func (t *stringTable) lower(b []byte) string {
	if s, ok := t.lowered[view(b)]; ok {
		return s
	}
	if t.lowered == nil {
		t.lowered = make(map[string]string)
	}
	s := t.intern([]byte(strings.ToLower(string(b))))
	t.lowered[string(b)] = s
	return s
}

// instanceType returns b as a string, the previous row's when equal.
func (t *stringTable) instanceType(b []byte) string {
	if view(b) != t.lastInst {
		t.lastInst = t.copy(b)
	}
	return t.lastInst
}

func (t *stringTable) copy(b []byte) string {
	return t.make(len(b), func(dst []byte) { copy(dst, b) })
}

// id is o.ID() made in the table's blocks.
func (t *stringTable) id(o *Offer) string {
	n := len(o.Cloud) + len(o.Region) + len(o.Zone) + len(o.InstanceType) + len(o.CapacityType) + 4
	return t.make(n, func(dst []byte) {
		dst = append(dst[:0], o.Cloud...)
		dst = append(append(dst, '/'), o.Region...)
		dst = append(append(dst, '/'), o.Zone...)
		dst = append(append(dst, '/'), o.InstanceType...)
		_ = append(append(dst, '/'), o.CapacityType...)
	})
}

// make returns a new string of n bytes written by fill.
func (t *stringTable) make(n int, fill func([]byte)) string {
	if n == 0 {
		return ""
	}
	if cap(t.block)-len(t.block) < n {
		t.block = make([]byte, 0, max(64<<10, n))
	}
	start := len(t.block)
	t.block = t.block[:start+n]
	dst := t.block[start : start+n : start+n]
	fill(dst)
	return unsafe.String(&dst[0], n)
}
