package awslive

import (
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"

	"github.com/gpufleet/terraform-provider-gpufleet/internal/awsregion"
)

// awsPriceDocument is the part of an AWS Price List product document
// (one element of GetProducts' PriceList, itself a JSON string) that
// gpufleet reads.
type awsPriceDocument struct {
	Product struct {
		ProductFamily string            `json:"productFamily"`
		Attributes    map[string]string `json:"attributes"`
	} `json:"product"`
	Terms struct {
		OnDemand map[string]struct {
			PriceDimensions map[string]awsPriceDimension `json:"priceDimensions"`
		} `json:"OnDemand"`
	} `json:"terms"`
}

type awsPriceDimension struct {
	Unit         string            `json:"unit"`
	BeginRange   string            `json:"beginRange"`
	PricePerUnit map[string]string `json:"pricePerUnit"`
}

// awsListPrice is one hourly on-demand price read from a document.
type awsListPrice struct {
	Region, InstanceType string
	USDPerHour           float64
}

// awsProductWanted are the attributes of the product gpufleet prices:
// what the GetProducts filters ask for, checked again on every document.
var awsProductWanted = map[string]string{
	"operatingSystem": "Linux", "tenancy": "Shared", "preInstalledSw": "NA", "capacitystatus": "Used",
}

// parseAWSPriceDocument reads one Price List document. ok is false for a
// document that is not a priced Linux, shared-tenancy instance (a Windows
// or Dedicated product, a zero-priced capacity reservation line, a region
// it cannot place). The price is the on-demand dimension billed in "Hrs"
// with a positive USD price per unit; where several qualify (tiers), the
// first tier (beginRange 0) wins, then the lowest price. Reserved terms
// are never read.
func parseAWSPriceDocument(doc string) (awsListPrice, bool, error) {
	var d awsPriceDocument
	if err := json.Unmarshal([]byte(doc), &d); err != nil {
		return awsListPrice{}, false, fmt.Errorf("price list document: %w", err)
	}
	attrs := d.Product.Attributes
	for k, want := range awsProductWanted {
		if !strings.EqualFold(attrs[k], want) {
			return awsListPrice{}, false, nil
		}
	}
	p := awsListPrice{Region: attrs["regionCode"], InstanceType: attrs["instanceType"]}
	if p.Region == "" {
		p.Region = awsregion.OfLocation(attrs["location"])
	}
	if p.Region == "" || p.InstanceType == "" {
		return awsListPrice{}, false, nil
	}
	type candidate struct {
		key       string
		firstTier bool
		usd       float64
	}
	var cands []candidate
	for termKey, term := range d.Terms.OnDemand {
		for dimKey, dim := range term.PriceDimensions {
			if !strings.EqualFold(dim.Unit, "Hrs") {
				continue
			}
			usd, err := strconv.ParseFloat(dim.PricePerUnit["USD"], 64)
			if err != nil || !(usd > 0) || math.IsInf(usd, 0) {
				continue
			}
			cands = append(cands, candidate{termKey + "/" + dimKey, dim.BeginRange == "" || dim.BeginRange == "0", usd})
		}
	}
	if len(cands) == 0 {
		return awsListPrice{}, false, nil
	}
	best := slices.MinFunc(cands, func(a, b candidate) int {
		switch {
		case a.firstTier != b.firstTier:
			if a.firstTier {
				return -1
			}
			return 1
		case a.usd != b.usd:
			if a.usd < b.usd {
				return -1
			}
			return 1
		}
		return strings.Compare(a.key, b.key)
	})
	p.USDPerHour = best.usd
	return p, true, nil
}
