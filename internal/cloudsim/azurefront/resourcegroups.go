package azurefront

import (
	"encoding/base64"
	"errors"
	"net/http"
	"slices"
	"strings"

	"github.com/gpufleet/terraform-provider-gpufleet/internal/cloud"
	"github.com/gpufleet/terraform-provider-gpufleet/internal/cloudsim"
)

func rgNotFound(rg string) error {
	return newErr(404, "ResourceGroupNotFound", "Resource group '%s' could not be found.", rg)
}

// resourceGroup finds a resource group on the side (without rate limits
// or faults); false when there is none.
func (s *server) resourceGroup(rg string) (rgRecord, bool, error) {
	return s.t.groups.Lookup(strings.ToLower(rg))
}

// groupName is the name of resource group rg as created: 404
// ResourceGroupNotFound when there is none.
func (s *server) groupName(rg string) (string, error) {
	g, ok, err := s.resourceGroup(rg)
	switch {
	case err != nil:
		return "", err
	case !ok:
		return "", rgNotFound(rg)
	}
	return g.Name, nil
}

func rgJSON(sub string, g rgRecord) map[string]any {
	tags := g.Tags
	if tags == nil {
		tags = map[string]string{}
	}
	return map[string]any{
		"id":       "/subscriptions/" + sub + "/resourceGroups/" + g.Name,
		"name":     g.Name,
		"type":     "Microsoft.Resources/resourceGroups",
		"location": g.Location,
		"tags":     tags,
		"properties": map[string]any{
			"provisioningState": "Succeeded",
		},
	}
}

func (s *server) serveResourceGroup(q *req, rg string) (reply, error) {
	key := strings.ToLower(rg)
	switch q.r.Method {
	case http.MethodPut:
		var body struct {
			Location string            `json:"location"`
			Tags     map[string]string `json:"tags"`
		}
		if err := decode(q.r, &body); err != nil {
			return reply{}, err
		}
		if body.Location == "" {
			return reply{}, newErr(400, "LocationRequired", "The location property is required for this definition.")
		}
		if body.Tags == nil {
			body.Tags = map[string]string{}
		}
		g := rgRecord{Name: rg, Location: normLocation(body.Location), Tags: body.Tags}
		s.mu.Lock()
		defer s.mu.Unlock()
		status := http.StatusCreated
		old, ok, err := s.resourceGroup(rg)
		if err != nil {
			return reply{}, err
		}
		if ok {
			if old.Location != g.Location {
				return reply{}, newErr(409, "InvalidResourceGroupLocation",
					"Invalid resource group location '%s'. The Resource group already exists in location '%s'.", g.Location, old.Location)
			}
			g.Name = old.Name
			status = http.StatusOK
		}
		if err := s.t.groups.Put(key, g); err != nil {
			return reply{}, err
		}
		return reply{status: status, body: rgJSON(q.sub, g)}, nil
	case http.MethodGet, http.MethodHead:
		g, err := s.t.groups.Get(key)
		if err != nil {
			if cloud.IsNotFound(err) {
				return reply{}, rgNotFound(rg)
			}
			return reply{}, err
		}
		if q.r.Method == http.MethodHead {
			return reply{status: http.StatusNoContent}, nil
		}
		return reply{status: http.StatusOK, body: rgJSON(q.sub, g)}, nil
	case http.MethodDelete:
		s.mu.Lock()
		defer s.mu.Unlock()
		name, err := s.groupName(rg)
		if err != nil {
			return reply{}, err
		}
		metas, err := s.t.clusters.All()
		if err != nil {
			return reply{}, err
		}
		var clusters []string
		for _, r := range metas {
			if rgOfRow(r.Name) != key {
				continue
			}
			if _, ok := s.findCluster(r.Value.Location, r.Value.Name); ok {
				clusters = append(clusters, r.Value.Name)
			}
		}
		if len(clusters) > 0 {
			slices.Sort(clusters)
			return reply{}, newErr(409, "ResourceGroupDeletionBlocked",
				"Deletion of resource group '%s' was refused: it still contains managed clusters (%s); cloudsim deletes a resource group only once its managed clusters are deleted.",
				name, strings.Join(clusters, ", "))
		}
		if err := s.networkGroupDeletion(key, name); err != nil {
			return reply{}, err
		}
		if err := s.reservationGroupDeletion(key, name); err != nil {
			return reply{}, err
		}
		if err := s.t.groups.Delete(key); err != nil {
			if cloud.IsNotFound(err) {
				return reply{}, rgNotFound(rg)
			}
			return reply{}, err
		}
		// What belongs to the group goes with it.
		if err := errors.Join(
			s.t.clusters.RemoveWhere(func(r cloudsim.Row[clusterMeta]) bool { return rgOfRow(r.Name) == key }),
			s.t.pools.RemoveWhere(func(r cloudsim.Row[poolMeta]) bool { return rgOfRow(r.Name) == key }),
			s.t.ops.RemoveWhere(func(r cloudsim.Row[opRecord]) bool { return r.Value.RG == key }),
			s.t.roles.RemoveWhere(func(r cloudsim.Row[roleAssignment]) bool { return rgOfScope(r.Value.Scope) == key }),
		); err != nil {
			return reply{}, err
		}
		token := base64.RawURLEncoding.EncodeToString([]byte("rg:" + key))
		return reply{status: http.StatusAccepted, header: map[string]string{
			"Location": q.base + "/subscriptions/" + q.sub + "/operationresults/" + token + "?api-version=" + q.apiVersion,
		}}, nil
	}
	return reply{}, newErr(405, "MethodNotAllowed", "cloudsim: method %s is not supported on resource groups", q.r.Method)
}

// rgDeleteResult answers the Location poll of a resource group deletion:
// 202 while the group exists, 200 once it is gone.
func (s *server) rgDeleteResult(q *req, token string) (reply, error) {
	raw, err := base64.RawURLEncoding.DecodeString(token)
	if err != nil || !strings.HasPrefix(string(raw), "rg:") {
		return reply{}, newErr(404, "NotFound", "operation result %s not found", token)
	}
	_, ok, err := s.resourceGroup(strings.TrimPrefix(string(raw), "rg:"))
	if err != nil {
		return reply{}, err
	}
	if ok {
		return reply{status: http.StatusAccepted, header: map[string]string{"Location": q.base + q.r.URL.RequestURI()}}, nil
	}
	return reply{status: http.StatusOK}, nil
}
