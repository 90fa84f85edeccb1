package planner

// Offers returns the catalog's offers that pass the request's offer filters
// (clouds, capacity types, GPU models and memory, GPUs per node,
// interconnect, residency, price cap, spot score, availability, and quotas
// with no room for one node), sorted by price per
// GPU-hour with the canonical tie-breaks, and for a request with a time
// window, only the scheduled capacity that fits it. GPUs, Spread and Gang
// are ignored; empty CapacityTypes allows every capacity type (reservations,
// blocks and DWS capacity included). Errors are *RequestError.
func Offers(c *Catalog, req Request) ([]Offer, error) {
	req.GPUs, req.Spread, req.Gang = 1, Spread{}, false
	if len(req.CapacityTypes) == 0 {
		req.CapacityTypes = AllCapacityTypes
	}
	n, err := req.Normalize(c)
	if err != nil {
		return nil, err
	}
	var out []Offer
	f := newOfferFilter(c, &n)
	for i := range c.Offers {
		if f.eligible(&c.Offers[i]) {
			out = append(out, c.Offers[i])
		}
	}
	return out, nil
}
