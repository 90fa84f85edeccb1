package pricefront

import (
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
)

// awsProductVariant is one of the products the Price List has per region
// and instance type; only the first is what gpufleet prices (Linux,
// shared tenancy, no pre-installed software, capacitystatus Used).
type awsProductVariant struct {
	os, tenancy, software, capacityStatus, operation, usage string
	price                                                   func(p float64, vcpus int) float64
}

var awsProductVariants = []awsProductVariant{
	{"Linux", "Shared", "NA", "Used", "RunInstances", "BoxUsage", func(p float64, _ int) float64 { return p }},
	{"Windows", "Shared", "NA", "Used", "RunInstances:0002", "BoxUsage", func(p float64, v int) float64 { return p + 0.046*float64(v) }},
	{"Linux", "Dedicated", "NA", "Used", "RunInstances", "DedicatedUsage", func(p float64, _ int) float64 { return p * 1.1 }},
	{"Linux", "Shared", "SQL Std", "Used", "RunInstances:0004", "BoxUsage", func(p float64, v int) float64 { return p + 0.12*float64(v) }},
	{"Linux", "Shared", "NA", "UnusedCapacityReservation", "RunInstances", "UnusedBox", func(p float64, _ int) float64 { return p }},
	{"Linux", "Shared", "NA", "AllocatedCapacityReservation", "RunInstances", "Reservation", func(float64, int) float64 { return 0 }},
}

type awsPricingFilter struct {
	Type  string `json:"Type"`
	Field string `json:"Field"`
	Value string `json:"Value"`
}

type awsGetProductsInput struct {
	ServiceCode   string             `json:"ServiceCode"`
	Filters       []awsPricingFilter `json:"Filters"`
	FormatVersion string             `json:"FormatVersion"`
	NextToken     string             `json:"NextToken"`
	MaxResults    int                `json:"MaxResults"`
}

type awsProduct struct {
	attrs map[string]string
	doc   string
}

func (a *AWS) servePricing(w http.ResponseWriter, r *http.Request, op string) {
	f, reqID := a.admit(op)
	switch f {
	case faultThrottle:
		writeJSONError(w, http.StatusBadRequest, "ThrottlingException", reqID, "Rate exceeded")
		return
	case faultFail:
		writeJSONError(w, http.StatusInternalServerError, "InternalFailure", reqID, "The request processing has failed because of an unknown error, exception or failure.")
		return
	}
	if op != AWSGetProducts {
		writeJSONError(w, http.StatusBadRequest, "UnknownOperationException", reqID, "pricefront serves GetProducts only, not "+op)
		return
	}
	var in awsGetProductsInput
	if err := json.NewDecoder(r.Body).Decode(&in); err != nil {
		writeJSONError(w, http.StatusBadRequest, "SerializationException", reqID, err.Error())
		return
	}
	if in.MaxResults > 100 {
		writeJSONError(w, http.StatusBadRequest, "InvalidParameterException", reqID, "MaxResults must be at most 100")
		return
	}
	offset, ok := parsePageToken(AWSGetProducts, in.NextToken)
	if !ok {
		writeJSONError(w, http.StatusBadRequest, "InvalidNextTokenException", reqID, "The NextToken is not valid.")
		return
	}
	var matched []string
	if in.ServiceCode == "AmazonEC2" {
		for _, p := range a.products(termFilter(in.Filters, "instanceType")) {
			ok, err := matchFilters(p.attrs, in.Filters)
			if err != nil {
				writeJSONError(w, http.StatusBadRequest, "InvalidParameterException", reqID, err.Error())
				return
			}
			if ok {
				matched = append(matched, p.doc)
			}
		}
	}
	items, next := page(AWSGetProducts, matched, offset, a.pageSize(in.MaxResults, 100))
	out := struct {
		FormatVersion string   `json:"FormatVersion"`
		NextToken     *string  `json:"NextToken,omitempty"`
		PriceList     []string `json:"PriceList"`
	}{FormatVersion: "aws_v1", PriceList: append([]string{}, items...)}
	if next != "" {
		out.NextToken = &next
	}
	writeJSON(w, reqID, out)
}

// matchFilters applies Price List filters to a product's attributes:
// TERM_MATCH and EQUALS compare whole values (TERM_MATCH ignoring case),
// CONTAINS substrings, ANY_OF and NONE_OF comma-separated lists.
func matchFilters(attrs map[string]string, filters []awsPricingFilter) (bool, error) {
	for _, f := range filters {
		v, has := attrs[f.Field]
		if f.Field == "ServiceCode" {
			v, has = "AmazonEC2", true
		}
		var ok bool
		switch f.Type {
		case "TERM_MATCH":
			ok = has && strings.EqualFold(v, f.Value)
		case "EQUALS":
			ok = has && v == f.Value
		case "CONTAINS":
			ok = has && strings.Contains(v, f.Value)
		case "ANY_OF":
			ok = has && slices.Contains(strings.Split(f.Value, ","), v)
		case "NONE_OF":
			ok = !has || !slices.Contains(strings.Split(f.Value, ","), v)
		default:
			return false, fmt.Errorf("filter type %q is not one of TERM_MATCH, EQUALS, CONTAINS, ANY_OF, NONE_OF", f.Type)
		}
		if !ok {
			return false, nil
		}
	}
	return true, nil
}

// termFilter returns the value an exact (TERM_MATCH or EQUALS) filter
// requires of field, "" when none does.
func termFilter(filters []awsPricingFilter, field string) string {
	for _, f := range filters {
		if f.Field == field && (f.Type == "TERM_MATCH" || f.Type == "EQUALS") {
			return f.Value
		}
	}
	return ""
}

// products lists the products of the simulated Price List, by region,
// instance type and variant: those of one instance type, or every one
// when instanceType is "". Documents are built once per instance type.
func (a *AWS) products(instanceType string) []awsProduct {
	var types []string
	for t := range a.shapes {
		if instanceType == "" || strings.EqualFold(t, instanceType) {
			types = append(types, t)
		}
	}
	slices.Sort(types)
	var out []awsProduct
	for _, t := range types {
		a.mu.Lock()
		ps, ok := a.productCache[t]
		a.mu.Unlock()
		if !ok {
			ps = a.buildProducts(t)
			a.mu.Lock()
			a.productCache[t] = ps
			a.mu.Unlock()
		}
		out = append(out, ps...)
	}
	if instanceType == "" {
		// By region first, as one listing of the whole service is.
		slices.SortStableFunc(out, func(x, y awsProduct) int { return strings.Compare(x.attrs["regionCode"], y.attrs["regionCode"]) })
	}
	return out
}

// buildProducts builds the documents of one instance type in every
// region with an on-demand offer of it.
func (a *AWS) buildProducts(instanceType string) []awsProduct {
	regions := make([]string, 0, len(a.onDemand))
	for r, m := range a.onDemand {
		if _, ok := m[instanceType]; ok {
			regions = append(regions, r)
		}
	}
	slices.Sort(regions)
	var out []awsProduct
	for _, region := range regions {
		for _, v := range awsProductVariants {
			out = append(out, a.product(region, instanceType, v, a.onDemand[region][instanceType]))
		}
	}
	return out
}

// usagePrefix is the region prefix of Price List usage types (EUC1-
// for eu-central-1; none for us-east-1), taken from the region's zone IDs.
func (a *AWS) usagePrefix(region string) string {
	if region == "us-east-1" || len(a.zones[region]) == 0 {
		return ""
	}
	id := a.zones[region][0].id
	if i := strings.Index(id, "-az"); i > 0 {
		return strings.ToUpper(id[:i]) + "-"
	}
	return ""
}

// product builds one Price List document, shaped like the real ones.
func (a *AWS) product(region, instanceType string, v awsProductVariant, listPrice float64) awsProduct {
	shape := a.shapes[instanceType]
	h := sha256.Sum256([]byte(region + "|" + instanceType + "|" + v.os + "|" + v.tenancy + "|" + v.software + "|" + v.capacityStatus))
	const alnum = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
	sku := make([]byte, 16)
	for i := range sku {
		sku[i] = alnum[int(h[i])%len(alnum)]
	}
	attrs := map[string]string{
		"servicecode": "AmazonEC2", "servicename": "Amazon Elastic Compute Cloud",
		"location": AWSLocation(region), "locationType": "AWS Region", "regionCode": region,
		"instanceType": instanceType, "instanceFamily": "GPU instance", "currentGeneration": "Yes",
		"vcpu": strconv.Itoa(shape.VCPUs), "memory": strconv.FormatFloat(shape.MemoryGiB, 'f', -1, 64) + " GiB",
		"gpu": strconv.Itoa(shape.GPUCount), "gpuMemory": strconv.FormatFloat(shape.GPUMemoryGiB*float64(shape.GPUCount), 'f', -1, 64) + " GB",
		"operatingSystem": v.os, "tenancy": v.tenancy, "preInstalledSw": v.software, "capacitystatus": v.capacityStatus,
		"licenseModel": "No License required", "operation": v.operation, "marketoption": "OnDemand",
		"usagetype": a.usagePrefix(region) + v.usage + ":" + instanceType, "processorArchitecture": "64-bit",
		"availabilityzone": "NA",
	}
	price := v.price(listPrice, shape.VCPUs)
	s := string(sku)
	dim := func(code, unit, desc string, usd float64) map[string]any {
		return map[string]any{"unit": unit, "endRange": "Inf", "beginRange": "0", "description": desc, "appliesTo": []string{},
			"rateCode": s + "." + code, "pricePerUnit": map[string]string{"USD": strconv.FormatFloat(usd, 'f', 10, 64)}}
	}
	term := func(code string, attrs map[string]string, dims ...map[string]any) map[string]any {
		pd := map[string]any{}
		for _, d := range dims {
			pd[d["rateCode"].(string)] = d
		}
		return map[string]any{"priceDimensions": pd, "sku": s, "effectiveDate": "2026-11-01T00:00:00Z",
			"offerTermCode": code, "termAttributes": attrs}
	}
	desc := fmt.Sprintf("$%s per On Demand %s %s Instance Hour", strconv.FormatFloat(price, 'f', -1, 64), v.os, instanceType)
	doc := map[string]any{
		"product":         map[string]any{"productFamily": "Compute Instance", "attributes": attrs, "sku": s},
		"serviceCode":     "AmazonEC2",
		"version":         "20261101000000",
		"publicationDate": "2026-11-01T00:00:00Z",
		"terms": map[string]any{
			"OnDemand": map[string]any{s + ".JRTCKXETXF": term("JRTCKXETXF", map[string]string{},
				dim("JRTCKXETXF.6YS6EN2CT7", "Hrs", desc, price))},
			"Reserved": map[string]any{
				s + ".4NA7Y494T4": term("4NA7Y494T4", map[string]string{"LeaseContractLength": "1yr", "OfferingClass": "standard", "PurchaseOption": "No Upfront"},
					dim("4NA7Y494T4.6YS6EN2CT7", "Hrs", "No Upfront, 1 year", price*0.65)),
				s + ".38NPMPTW36": term("38NPMPTW36", map[string]string{"LeaseContractLength": "3yr", "OfferingClass": "standard", "PurchaseOption": "Partial Upfront"},
					dim("38NPMPTW36.2TG2D8R56U", "Quantity", "Upfront Fee", price*0.2*26280),
					dim("38NPMPTW36.6YS6EN2CT7", "Hrs", "Partial Upfront, 3 years", price*0.2)),
			},
		},
	}
	data, _ := json.Marshal(doc)
	return awsProduct{attrs: attrs, doc: string(data)}
}
