package planner

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"math/rand/v2"
	"strings"
	"testing"
)

// corpusDigest plans every instance of the property tests' generators (the
// brute-force corpus, both seeds) and the benchmark requests on the
// embedded catalog, and digests each catalog's version and offer IDs and
// each placement's JSON (or error text). Without capacity kinds beyond
// on-demand and spot and without a time window, the digest must stay the
// one the planner had before reservations, blocks and DWS capacity were
// added (corpusWant): the extension changes no byte of those plans.
func corpusDigest(t *testing.T) string {
	t.Helper()
	h := sha256.New()
	write := func(c *Catalog, req Request) {
		h.Write([]byte(c.Version + "\n"))
		h.Write([]byte(strings.Join(c.ids, ",") + "\n"))
		p, err := Plan(c, req)
		if err != nil {
			h.Write([]byte("error: " + err.Error() + "\n"))
			return
		}
		b, err := json.Marshal(p)
		if err != nil {
			t.Fatal(err)
		}
		h.Write(append(b, '\n'))
	}
	rng := rand.New(rand.NewPCG(1, 2))
	for range 1500 {
		write(randomInstance(rng, false))
	}
	rng = rand.New(rand.NewPCG(3, 4))
	for range 1200 {
		c, req := randomInstance(rng, true)
		req.GPUs = 1 + rng.IntN(10)
		write(c, req)
	}
	c := Embedded()
	for _, rq := range benchRequests {
		for _, gpus := range []int{8, 512} {
			req := rq.req
			req.GPUs = gpus
			write(c, req)
		}
	}
	return hex.EncodeToString(h.Sum(nil))
}

// corpusWant is corpusDigest at commit 94480d2, before capacity kinds.
const corpusWant = "c47cfe8cea7183eb9ff56d5b891a9677325ee30210657a8a80d82b7d72f0fdbd"

func TestCorpusUnchangedWithoutCapacityKinds(t *testing.T) {
	if got := corpusDigest(t); got != corpusWant {
		t.Fatalf("the property corpus plans differently: digest %s, want %s", got, corpusWant)
	}
}
