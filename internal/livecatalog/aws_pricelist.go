package livecatalog

import (
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
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
		p.Region = awsRegionOfLocation[attrs["location"]]
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

// awsRegionOfLocation maps the Price List "location" attribute to a
// region code, for documents without regionCode (older price lists).
var awsRegionOfLocation = map[string]string{
	"US East (N. Virginia)": "us-east-1", "US East (Ohio)": "us-east-2",
	"US West (N. California)": "us-west-1", "US West (Oregon)": "us-west-2",
	"AWS GovCloud (US-East)": "us-gov-east-1", "AWS GovCloud (US-West)": "us-gov-west-1",
	"Canada (Central)": "ca-central-1", "Canada West (Calgary)": "ca-west-1",
	"Mexico (Central)": "mx-central-1", "South America (Sao Paulo)": "sa-east-1",
	"EU (Ireland)": "eu-west-1", "EU (London)": "eu-west-2", "EU (Paris)": "eu-west-3",
	"EU (Frankfurt)": "eu-central-1", "EU (Zurich)": "eu-central-2", "EU (Stockholm)": "eu-north-1",
	"EU (Milan)": "eu-south-1", "EU (Spain)": "eu-south-2",
	"Israel (Tel Aviv)": "il-central-1", "Middle East (Bahrain)": "me-south-1", "Middle East (UAE)": "me-central-1",
	"Africa (Cape Town)":       "af-south-1",
	"Asia Pacific (Hong Kong)": "ap-east-1", "Asia Pacific (Taipei)": "ap-east-2",
	"Asia Pacific (Mumbai)": "ap-south-1", "Asia Pacific (Hyderabad)": "ap-south-2",
	"Asia Pacific (Tokyo)": "ap-northeast-1", "Asia Pacific (Seoul)": "ap-northeast-2", "Asia Pacific (Osaka)": "ap-northeast-3",
	"Asia Pacific (Singapore)": "ap-southeast-1", "Asia Pacific (Sydney)": "ap-southeast-2",
	"Asia Pacific (Jakarta)": "ap-southeast-3", "Asia Pacific (Melbourne)": "ap-southeast-4",
	"Asia Pacific (Malaysia)": "ap-southeast-5", "Asia Pacific (Thailand)": "ap-southeast-7",
	"China (Beijing)": "cn-north-1", "China (Ningxia)": "cn-northwest-1",
}
