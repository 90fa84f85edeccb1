package planner

import (
	"fmt"
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"
)

// sameAsEncodingCSV checks fastOffers against readOffers (encoding/csv)
// on one file: where fastOffers accepts it, readOffers must too, with the
// same offers, IDs and metadata; where readOffers refuses it, fastOffers
// must give up so that ParseCatalog reports readOffers' error. It reports
// whether fastOffers accepted the file.
func sameAsEncodingCSV(t *testing.T, data string) bool {
	t.Helper()
	kinds := embeddedInstanceKinds()
	fo, fids, fmeta, ok := fastOffers([]byte(data), kinds)
	so, sids, smeta, err := readOffers("f.csv", []byte(data), kinds)
	if !ok {
		return false
	}
	if err != nil {
		t.Fatalf("fastOffers accepted a file encoding/csv refuses (%v):\n%s", err, data)
	}
	if !reflect.DeepEqual(fo, so) || !reflect.DeepEqual(fids, sids) || !reflect.DeepEqual(fmeta, smeta) {
		t.Fatalf("fastOffers and encoding/csv differ on:\n%s\nfast %+v %q %+v\ncsv  %+v %q %+v", data, fo, fids, fmeta, so, sids, smeta)
	}
	return true
}

// bothReads runs test with files read whole and with every file of two
// lines or more read in two halves at once, as large files are.
func bothReads(t *testing.T, test func(t *testing.T)) {
	for _, split := range []int{fastSplitBytes, 0} {
		t.Run(fmt.Sprintf("split_from=%d", split), func(t *testing.T) {
			defer func(old int) { fastSplitBytes = old }(fastSplitBytes)
			fastSplitBytes = split
			test(t)
		})
	}
}

func TestFastOffersEmbedded(t *testing.T) { bothReads(t, testFastOffersEmbedded) }

func testFastOffersEmbedded(t *testing.T) {
	if !sameAsEncodingCSV(t, string(embeddedOffersCSV)) {
		t.Fatal("fastOffers gave up on the embedded catalog")
	}
	slow, err := readOffersCatalog(embeddedOffersCSV)
	if err != nil {
		t.Fatal(err)
	}
	if got := Embedded().Version; got != slow.Version {
		t.Fatalf("embedded version %s, encoding/csv path %s", got, slow.Version)
	}
}

// readOffersCatalog is ParseCatalog by encoding/csv alone.
func readOffersCatalog(data []byte) (*Catalog, error) {
	offers, ids, meta, err := readOffers("f.csv", data, embeddedInstanceKinds())
	if err != nil {
		return nil, err
	}
	return buildCatalog(offers, ids, false, embeddedRegions(), meta.date, meta.sources, nil)
}

func TestFastOffersCases(t *testing.T) { bothReads(t, testFastOffersCases) }

func testFastOffersCases(t *testing.T) {
	row := "aws,p5.48xlarge,H100,8,80,192,2048,eu-central-1,euc1-az1,50.5,20.25"
	accepted := []string{
		csvHeader + "\n" + row + "\n",
		csvHeader + "\n" + strings.Replace(row, "euc1-az1", "a/b", 1) + "\n",                 // IDs compared whole
		csvHeader + "\n" + row,                                                               // no final newline
		"# date: 2026-01-02\n#source:x\n\n" + csvHeader + "\n\n" + row + "\n# source : y \n", // comments and empty lines anywhere
		csvHeader + ",max_nodes\n" + row + ",4\n" + strings.Replace(row, "euc1-az1", "euc1-az2", 1) + ",\n",
		" cloud , instance_type,gpu_model,gpu_count,gpu_memory_gib,vcpus,memory_gib,region,zone,price_usd_hour,spot_price_usd_hour\n" +
			" AWS , p5.48xlarge ,H100, +8 ,8e1,192,2048.5, eu-central-1 ,,50.5 ,\n", // spaces, upper-case cloud, signs, exponents
		csvHeader + "\nazure,Standard_ND96isr_H100_v5,H100,8,80,96,1900,westeurope,,110,\n", // no zone, no spot price
	}
	for _, data := range accepted {
		if !sameAsEncodingCSV(t, data) {
			t.Errorf("fastOffers gave up on:\n%s", data)
		}
	}
	refused := []string{
		"",
		"# only a comment\n",
		csvHeader + "\n" + row + "\n" + row + "\n", // duplicate
		csvHeader + "\n\"aws\",p5.48xlarge,H100,8,80,192,2048,eu-central-1,euc1-az1,50.5,20.25\n",
		csvHeader + "\r\n" + row + "\r\n",
		csvHeader + "\n #" + row + "\n",
		csvHeader + "\n" + strings.Replace(row, ",80,", ",NaN,", 1) + "\n",
		csvHeader + "\n" + strings.Replace(row, ",50.5,", ",0,", 1) + "\n",
		csvHeader + "\n" + strings.Replace(row, ",20.25", ",0", 1) + "\n",
		csvHeader + "\n" + strings.Replace(row, "eu-central-1", "mars-1", 1) + "\n",
		csvHeader + "\n" + row + ",1\n",
		csvHeader + ",max_nodes,extra\n",
		csvHeader + "\n" + strings.Replace(row, "H100", "\u00a0H100", 1) + "\n",
	}
	for _, data := range refused {
		sameAsEncodingCSV(t, data)
		if _, _, _, ok := fastOffers([]byte(data), embeddedInstanceKinds()); ok {
			t.Errorf("fastOffers accepted:\n%q", data)
		}
	}
}

// TestFastOffersMutations compares the two readers on random edits of a
// small catalog: bytes replaced, inserted or removed from a set that
// matters to CSV and to the number and name checks.
func TestFastOffersMutations(t *testing.T) { bothReads(t, testFastOffersMutations) }

func testFastOffersMutations(t *testing.T) {
	base := "# date: 2026-10-01\n" + csvHeader + ",max_nodes\n" +
		"aws,p5.48xlarge,H100,8,80,192,2048,eu-central-1,euc1-az1,50.5,20.25,4\n" +
		"gcp,a3-highgpu-8g,H100,8,80,208,1872,europe-west4,europe-west4-b,90,,\n" +
		"azure,Standard_ND96isr_H100_v5,H100,8,80,96,1900,westeurope,,110,,0\n"
	alphabet := []byte(",\n\r\"# 0189.-+eE/aA\t\xa0xN")
	rng := rand.New(rand.NewPCG(14, 1))
	acceptedN := 0
	for range 20000 {
		b := []byte(base)
		for range 1 + rng.IntN(3) {
			i := rng.IntN(len(b))
			c := alphabet[rng.IntN(len(alphabet))]
			switch rng.IntN(3) {
			case 0:
				b[i] = c
			case 1:
				b = append(b[:i], append([]byte{c}, b[i:]...)...)
			default:
				b = append(b[:i], b[i+1:]...)
			}
		}
		if sameAsEncodingCSV(t, string(b)) {
			acceptedN++
		}
	}
	if acceptedN < 1000 {
		t.Errorf("fastOffers accepted only %d of 20000 edited files", acceptedN)
	}
}
