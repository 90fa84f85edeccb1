package azurefront

import (
	"encoding/base64"
	"encoding/json"
	"maps"
	"net/http"
	"slices"
	"strings"

	"github.com/gpufleet/terraform-provider-gpufleet/internal/cloud"
	"github.com/gpufleet/terraform-provider-gpufleet/internal/cloudsim"
)

const kindRG = "ResourceGroup"

func rgNotFound(rg string) error {
	return newErr(404, "ResourceGroupNotFound", "Resource group '%s' could not be found.", rg)
}

// resourceGroup finds a resource group on the side: its name as created
// and its location.
func (s *server) resourceGroup(rg string) (name, location string, ok bool) {
	o, ok := s.object(kindRG, strings.ToLower(rg))
	if !ok {
		return "", "", false
	}
	return o.Attrs["name"], o.Attrs["location"], true
}

func rgJSON(sub string, attrs map[string]string) map[string]any {
	tags := map[string]string{}
	_ = json.Unmarshal([]byte(attrs["tags"]), &tags)
	return map[string]any{
		"id":       "/subscriptions/" + sub + "/resourceGroups/" + attrs["name"],
		"name":     attrs["name"],
		"type":     "Microsoft.Resources/resourceGroups",
		"location": attrs["location"],
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
		tags, _ := json.Marshal(body.Tags)
		attrs := map[string]string{"name": rg, "location": normLocation(body.Location), "tags": string(tags)}
		s.mu.Lock()
		defer s.mu.Unlock()
		status := http.StatusCreated
		if o, ok := s.object(kindRG, key); ok {
			if o.Attrs["location"] != attrs["location"] {
				return reply{}, newErr(409, "InvalidResourceGroupLocation",
					"Invalid resource group location '%s'. The Resource group already exists in location '%s'.", attrs["location"], o.Attrs["location"])
			}
			attrs["name"] = o.Attrs["name"]
			status = http.StatusOK
			if !maps.Equal(o.Attrs, attrs) {
				if err := s.e.DeleteObject(cloudName, kindRG, key); err != nil {
					return reply{}, err
				}
			}
		}
		o, err := s.e.PutObject(cloudName, kindRG, key, attrs)
		if err != nil {
			return reply{}, err
		}
		return reply{status: status, body: rgJSON(q.sub, o.Attrs)}, nil
	case http.MethodGet, http.MethodHead:
		o, err := s.e.GetObject(cloudName, kindRG, key)
		if err != nil {
			if cloud.IsNotFound(err) {
				return reply{}, rgNotFound(rg)
			}
			return reply{}, err
		}
		if q.r.Method == http.MethodHead {
			return reply{status: http.StatusNoContent}, nil
		}
		return reply{status: http.StatusOK, body: rgJSON(q.sub, o.Attrs)}, nil
	case http.MethodDelete:
		s.mu.Lock()
		defer s.mu.Unlock()
		name, _, ok := s.resourceGroup(rg)
		if !ok {
			return reply{}, rgNotFound(rg)
		}
		var clusters []string
		for _, o := range s.e.Inventory().Objects {
			if o.Cloud != cloudName || o.Kind != kindClusterMeta || o.Attrs["rg"] != key {
				continue
			}
			var m clusterMeta
			if json.Unmarshal([]byte(o.Attrs["json"]), &m) == nil {
				if _, ok := s.findCluster(m.Location, m.Name); ok {
					clusters = append(clusters, m.Name)
				}
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
		if err := s.e.DeleteObject(cloudName, kindRG, key); err != nil {
			if cloud.IsNotFound(err) {
				return reply{}, rgNotFound(rg)
			}
			return reply{}, err
		}
		// What belongs to the group goes with it.
		for _, o := range s.e.Inventory().Objects {
			if o.Cloud == cloudName && o.Attrs["rg"] == key &&
				(o.Kind == kindClusterMeta || o.Kind == kindPoolMeta || o.Kind == kindOperation || o.Kind == kindRoleAssignment) {
				if err := cloudsim.DeleteMeta(s.e, cloudName, o.Kind, o.Name); err != nil {
					return reply{}, err
				}
			}
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
	if _, _, ok := s.resourceGroup(strings.TrimPrefix(string(raw), "rg:")); ok {
		return reply{status: http.StatusAccepted, header: map[string]string{"Location": q.base + q.r.URL.RequestURI()}}, nil
	}
	return reply{status: http.StatusOK}, nil
}
