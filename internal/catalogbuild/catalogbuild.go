// Package catalogbuild assembles the catalog gpufleet plans with, in one
// order for the provider and the gpufleet CLI: the embedded catalog or a
// catalog file, then the live refresh (prices, then availability and
// quotas) when one is asked for, then the user's adjustments (clouds,
// regions, discounts, price overrides, declared reservations).
//
// It links no cloud SDK, so that the gpufleet binary may use it: the live
// step is a function the caller passes in (livecatalog.Live, in the
// binaries that may link the SDKs).
package catalogbuild

import (
	"context"
	"time"

	"github.com/gpufleet/terraform-provider-gpufleet/planner"
)

// Spec is what a catalog is built from.
type Spec struct {
	// File is a catalog CSV replacing the embedded catalog; empty: the
	// embedded catalog, parsed only then.
	File string
	// Live refreshes the base catalog from the clouds' APIs; nil: no
	// refresh.
	Live LiveFunc
	// Adjustments are applied last, to the refreshed catalog. When they
	// set nothing the catalog is used as it is.
	Adjustments planner.Adjustments
}

// LiveFunc refreshes base from the clouds' own APIs. It never fails: a
// source that fails is a warning, and the catalog keeps what base says.
type LiveFunc func(ctx context.Context, base *planner.Catalog) Live

// Provenance says where a live price came from and when it was fetched.
type Provenance struct {
	Source  string    `json:"source"`
	FetchAt time.Time `json:"fetched_at"`
}

// Live is what the live step did.
type Live struct {
	// Catalog is the refreshed catalog (base where nothing answered).
	Catalog *planner.Catalog
	// Provenance by offer ID, for the offers whose price a source set.
	Provenance map[string]Provenance
	// SourceErr says the sources could not be set up at all (Catalog is
	// then base and nothing was asked).
	SourceErr error
	// PriceWarnings and AvailabilityWarnings are one line per source
	// that failed and fell back to the catalog.
	PriceWarnings, AvailabilityWarnings []string
	// ReservationWarnings are one line per reservation source that failed
	// and per live reservation that could not be used.
	ReservationWarnings []string
	// Facts says what the availability and reservation sources applied,
	// by source name.
	Facts map[string]string
}

// Warnings are the live step's warnings in one list: the sources' set-up,
// then prices, then availability, then reservations.
func (l *Live) Warnings() []string {
	var out []string
	if l.SourceErr != nil {
		out = append(out, l.SourceErr.Error())
	}
	out = append(out, l.PriceWarnings...)
	out = append(out, l.AvailabilityWarnings...)
	return append(out, l.ReservationWarnings...)
}

// Result is a built catalog.
type Result struct {
	Catalog *planner.Catalog
	// Live is what the live step did; nil when Spec.Live was nil.
	Live *Live
}

// FileError is a catalog file that could not be read or parsed. Its text
// is the underlying error's.
type FileError struct {
	Path string
	Err  error
}

func (e *FileError) Error() string { return e.Err.Error() }
func (e *FileError) Unwrap() error { return e.Err }

// AdjustError is adjustments the catalog refused (an unknown cloud, a
// price override that matches nothing, a *planner.ReservationError, ...).
// Its text is the underlying error's.
type AdjustError struct{ Err error }

func (e *AdjustError) Error() string { return e.Err.Error() }
func (e *AdjustError) Unwrap() error { return e.Err }

// Build builds the catalog spec describes. Errors are a *FileError or an
// *AdjustError; live sources that fail are warnings in Result.Live.
func Build(ctx context.Context, spec Spec) (Result, error) {
	var cat *planner.Catalog
	if spec.File == "" {
		cat = planner.Embedded()
	} else {
		c, err := planner.LoadCatalogFile(spec.File)
		if err != nil {
			return Result{}, &FileError{Path: spec.File, Err: err}
		}
		cat = c
	}
	var res Result
	if spec.Live != nil {
		live := spec.Live(ctx, cat)
		if live.Catalog == nil {
			live.Catalog = cat
		}
		res.Live, cat = &live, live.Catalog
	}
	if !setsNothing(&spec.Adjustments) {
		c, err := cat.Adjust(spec.Adjustments)
		if err != nil {
			return Result{}, &AdjustError{Err: err}
		}
		cat = c
	}
	res.Catalog = cat
	return res, nil
}

// setsNothing reports whether a would leave every offer as it is (Adjust
// would rebuild the same catalog, at the cost of a copy).
func setsNothing(a *planner.Adjustments) bool {
	for _, r := range a.Regions {
		if len(r) > 0 {
			return false
		}
	}
	return len(a.Clouds) == 0 && len(a.DiscountPercent) == 0 && len(a.Overrides) == 0 && len(a.Unavailable) == 0 &&
		len(a.Limits) == 0 && len(a.SpotScores) == 0 && len(a.Reservations) == 0 && len(a.Offers) == 0
}
