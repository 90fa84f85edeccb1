package azurefront

import (
	"encoding/base64"
	"encoding/json"
	"net/http"
	"strings"

	"github.com/gpufleet/terraform-provider-gpufleet/internal/cloud"
)

// Microsoft.Network requests: routing, PUT, GET, DELETE, lists and
// operation status (see network.go).

// isNetworkPath reports a Microsoft.Network path (see serveNetwork).
func isNetworkPath(q *req) bool {
	return (q.seg(2, "providers") && q.seg(3, "Microsoft.Network")) ||
		(q.seg(2, "resourcegroups") && q.seg(4, "providers") && q.seg(5, "Microsoft.Network"))
}

// serveNetwork dispatches Microsoft.Network requests. They are
// serialised: a record is replaced by a delete and a put, which a
// concurrent read must not see half done.
func (s *server) serveNetwork(q *req) (reply, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	n, m, segs := len(q.segs), q.r.Method, q.segs
	if q.seg(2, "providers") {
		switch {
		case n == 8 && q.seg(4, "locations") && m == http.MethodGet && (q.seg(6, "operations") || q.seg(6, "operationResults")):
			return s.netOperation(q, segs[5], segs[7], q.seg(6, "operationResults"))
		case n == 5 && m == http.MethodGet:
			if k, ok := kindBySeg(segs[4], false); ok {
				return s.listNet(q, k, "", "")
			}
		}
		return reply{}, newErr(404, "NotFound", "cloudsim: no route for %s %s", m, q.r.URL.Path)
	}
	rg := segs[3]
	if _, err := s.groupName(rg); err != nil {
		return reply{}, err
	}
	switch {
	case n == 7 && m == http.MethodGet:
		if k, ok := kindBySeg(segs[6], false); ok {
			return s.listNet(q, k, rg, "")
		}
	case n == 8:
		if k, ok := kindBySeg(segs[6], false); ok {
			return s.serveNetResource(q, k, rg, "", segs[7])
		}
	case n == 9 && q.seg(6, "virtualNetworks") && m == http.MethodGet:
		if k, ok := kindBySeg(segs[8], true); ok {
			return s.listNet(q, k, rg, segs[7])
		}
	case n == 9 && q.seg(6, "connections") && q.seg(8, "sharedkey") && m == http.MethodGet:
		return s.sharedKey(q, rg, segs[7])
	case n == 10 && q.seg(6, "virtualNetworks"):
		if k, ok := kindBySeg(segs[8], true); ok {
			return s.serveNetResource(q, k, rg, segs[7], segs[9])
		}
	}
	return reply{}, newErr(404, "NotFound", "cloudsim: no route for %s %s", m, q.r.URL.Path)
}

// serveNetResource answers PUT, GET and DELETE of one resource.
func (s *server) serveNetResource(q *req, k netKind, rg, vnet, name string) (reply, error) {
	key := netKey(rg, name)
	if vnet != "" {
		key = netKey(rg, vnet, name)
	}
	switch q.r.Method {
	case http.MethodGet:
		r, err := s.net.recs[k.kind].Get(key)
		if err != nil {
			if cloud.IsNotFound(err) {
				return reply{}, netNotFound(k.kind, rg, name)
			}
			return reply{}, err
		}
		w, err := s.netWorld(q.sub)
		if err != nil {
			return reply{}, err
		}
		return reply{status: http.StatusOK, body: s.renderNet(q, w, r)}, nil
	case http.MethodPut:
		return s.putNet(q, k, rg, vnet, name)
	case http.MethodDelete:
		w, err := s.netWorld(q.sub)
		if err != nil {
			return reply{}, err
		}
		r, ok := w.get(k.kind, key)
		if !ok {
			return reply{status: http.StatusNoContent}, nil
		}
		if err := s.deleteNet(w, r); err != nil {
			return reply{}, err
		}
		id := netDeleteOpID(r)
		return reply{status: http.StatusAccepted, header: netAsyncHeaders(q, r.Location, id, true)}, nil
	}
	return reply{}, newErr(405, "MethodNotAllowed", "cloudsim: method %s is not supported on %s", q.r.Method, k.typ)
}

// putNet parses a PUT, validates it against the world, stores the
// resource and starts its operation.
func (s *server) putNet(q *req, k netKind, rg, vnet, name string) (reply, error) {
	rgName, err := s.groupName(rg)
	if err != nil {
		return reply{}, err
	}
	w, err := s.netWorld(q.sub)
	if err != nil {
		return reply{}, err
	}
	r := netRecord{Kind: k.kind, RG: rgName, VNet: vnet, Name: name}
	var parent netRecord
	if k.child {
		p, ok := w.get(kindVNet, netKey(rg, vnet))
		if !ok {
			return reply{}, netNotFound(kindVNet, rg, vnet)
		}
		parent = p
		r.RG, r.VNet, r.Location = p.RG, p.Name, p.Location
	}
	old, existed := w.get(k.kind, r.key())
	if existed {
		r.Name, r.GUID = old.Name, old.GUID
	} else {
		r.GUID = newID()
	}
	var body netBody
	if err := decode(q.r, &body); err != nil {
		return reply{}, err
	}
	if !k.child {
		if body.Location == "" {
			return reply{}, newErr(400, "LocationRequired", "The location property is required for this definition.")
		}
		r.Location = normLocation(body.Location)
		if existed && old.Location != r.Location {
			return reply{}, newErr(409, "InvalidResourceLocation",
				"The resource '%s' already exists in location '%s' in resource group '%s'. A resource with the same name cannot be created in location '%s'. Please select a new resource name.",
				name, old.Location, rgName, r.Location)
		}
		r.Tags = body.Tags
	}
	if existed && k.kind == kindGateway && s.now().Before(old.ReadyAt) {
		return reply{}, newErr(409, "AnotherOperationInProgress",
			"Another operation on this or dependent resource is in progress: virtual network gateway %s is still being updated; retry when its provisioningState is Succeeded.", old.Name)
	}
	var after func() error
	switch k.kind {
	case kindVNet:
		after, err = s.putVNet(q, w, &r, old, existed, body.Properties)
	case kindSubnet:
		err = s.putSubnet(w, &r, parent, old, existed, body.Properties)
	case kindPeering:
		err = s.putPeering(w, &r, parent, body.Properties)
	case kindNSG:
		err = s.putNSG(w, &r, body.Properties)
	case kindPIP:
		err = s.putPIP(w, &r, old, existed, body)
	case kindGateway:
		err = s.putGateway(w, &r, body.Properties)
	case kindLNG:
		err = s.putLNG(w, &r, body.Properties)
	case kindConnection:
		err = s.putConnection(w, &r, body.Properties)
	}
	if err != nil {
		return reply{}, err
	}
	if r.PIP != nil && r.PIP.Address == "" {
		ip, err := s.e.AllocatePublicIP()
		if err != nil {
			return reply{}, err
		}
		r.PIP.Address = ip
	}
	r.ReadyAt = s.now().Add(s.netDuration(k.kind))
	if err := s.saveNet(w, r); err != nil {
		return reply{}, err
	}
	if after != nil {
		if err := after(); err != nil {
			return reply{}, err
		}
	}
	if err := s.refreshTunnels(w); err != nil {
		return reply{}, err
	}
	id := newID()
	if err := s.net.ops.Put(id, netOp{RG: strings.ToLower(r.RG), Kind: r.Kind, Key: r.key(), Location: r.Location, Start: s.now()}); err != nil {
		return reply{}, err
	}
	status := http.StatusCreated
	if existed {
		status = http.StatusOK
	}
	return reply{status: status, body: s.renderNet(q, w, r), header: netAsyncHeaders(q, r.Location, id, false)}, nil
}

// deleteNet deletes a resource after the in-use checks.
func (s *server) deleteNet(w *netWorld, r netRecord) error {
	var err error
	switch r.Kind {
	case kindVNet:
		err = s.vnetDeletable(w, r)
	case kindSubnet:
		err = s.subnetDeletable(w, r)
	case kindNSG:
		err = nsgDeletable(w, r)
	case kindPIP:
		err = pipDeletable(w, r)
	case kindGateway:
		err = gatewayDeletable(w, r)
	case kindLNG:
		err = lngDeletable(w, r)
	}
	if err != nil {
		return err
	}
	if err := s.dropNet(w, r); err != nil {
		return err
	}
	switch r.Kind {
	case kindVNet:
		for _, kind := range []string{kindSubnet, kindPeering} {
			for _, c := range w.children(kind, r) {
				if kind == kindPeering {
					if err := s.disconnectRemote(w, c); err != nil {
						return err
					}
				}
				if err := s.dropNet(w, c); err != nil {
					return err
				}
			}
		}
	case kindPeering:
		if err := s.disconnectRemote(w, r); err != nil {
			return err
		}
	case kindConnection:
		return s.e.UnregisterTunnelEnd(cloudName, tunnelID(r))
	}
	return nil
}

// netBody is a PUT body; properties are read per kind.
type netBody struct {
	Location string            `json:"location"`
	Tags     map[string]string `json:"tags"`
	SKU      *struct {
		Name string `json:"name"`
		Tier string `json:"tier"`
	} `json:"sku"`
	Zones      []string        `json:"zones"`
	Properties json.RawMessage `json:"properties"`
}

// props decodes a PUT body's properties.
func props(raw json.RawMessage, v any) error {
	if len(raw) == 0 {
		return nil
	}
	if err := json.Unmarshal(raw, v); err != nil {
		return newErr(400, "InvalidRequestFormat", "Cannot parse the request: %v", err)
	}
	return nil
}

func listBody(items []any) map[string]any {
	if items == nil {
		items = []any{}
	}
	return map[string]any{"value": items}
}

// listNet lists a kind in a resource group (or the subscription), or the
// children of a virtual network.
func (s *server) listNet(q *req, k netKind, rg, vnet string) (reply, error) {
	w, err := s.netWorld(q.sub)
	if err != nil {
		return reply{}, err
	}
	var items []any
	for _, r := range w.all(k.kind) {
		switch {
		case rg != "" && !strings.EqualFold(r.RG, rg):
			continue
		case vnet != "" && !strings.EqualFold(r.VNet, vnet):
			continue
		}
		items = append(items, s.renderNet(q, w, r))
	}
	if vnet != "" {
		if _, ok := w.get(kindVNet, netKey(rg, vnet)); !ok {
			return reply{}, netNotFound(kindVNet, rg, vnet)
		}
	}
	return reply{status: http.StatusOK, body: listBody(items)}, nil
}

// renderNet is a resource as ARM reports it.
func (s *server) renderNet(q *req, w *netWorld, r netRecord) map[string]any {
	var p map[string]any
	switch r.Kind {
	case kindVNet:
		p = s.vnetProps(q, w, r)
	case kindSubnet:
		p = s.subnetJSONProps(q, w, r)
	case kindPeering:
		p = s.peeringJSONProps(q, w, r)
	case kindNSG:
		p = s.nsgJSONProps(q, w, r)
	case kindPIP:
		p = s.pipJSONProps(q, w, r)
	case kindGateway:
		p = s.gatewayJSONProps(q, w, r)
	case kindLNG:
		p = s.lngJSONProps(r)
	case kindConnection:
		p = s.connJSONProps(q, w, r)
	}
	if p == nil {
		p = map[string]any{}
	}
	p["provisioningState"] = r.state(s.now())
	// Subnets have no resourceGuid (SubnetPropertiesFormat, Microsoft.Network
	// 2025-05-01: https://learn.microsoft.com/rest/api/virtualnetwork/subnets/get);
	// the other resources here do.
	if r.Kind != kindSubnet {
		p["resourceGuid"] = r.GUID
	}
	out := map[string]any{
		"id": r.id(q.sub), "name": r.Name, "type": kindInfo(r.Kind).typ, "etag": r.etag(), "properties": p,
	}
	if !kindInfo(r.Kind).child {
		out["location"] = r.Location
		tags := r.Tags
		if tags == nil {
			tags = map[string]string{}
		}
		out["tags"] = tags
	}
	if r.PIP != nil {
		out["sku"] = map[string]string{"name": r.PIP.SKU, "tier": r.PIP.Tier}
		if len(r.PIP.Zones) > 0 {
			out["zones"] = r.PIP.Zones
		}
	}
	return out
}

// netAsyncHeaders are the polling headers of a network operation.
func netAsyncHeaders(q *req, loc, id string, withLocation bool) map[string]string {
	base := q.base + "/subscriptions/" + q.sub + "/providers/Microsoft.Network/locations/" + loc
	h := map[string]string{"Azure-AsyncOperation": base + "/operations/" + id + "?api-version=" + q.apiVersion}
	if withLocation {
		h["Location"] = base + "/operationResults/" + id + "?api-version=" + q.apiVersion
	}
	return h
}

const netDeletePrefix = "netdel."

// netDeleteOpID is the ID of a finished delete: it carries its target.
func netDeleteOpID(r netRecord) string {
	return netDeletePrefix + base64.RawURLEncoding.EncodeToString([]byte(r.Kind+"|"+r.key()))
}

// netOperation answers the Azure-AsyncOperation URL (status document) and,
// with asResult, the Location URL (202 while running, 204 when done).
func (s *server) netOperation(q *req, loc, id string, asResult bool) (reply, error) {
	status, start := "Succeeded", s.now()
	var opErr *opError
	if rest, ok := strings.CutPrefix(id, netDeletePrefix); ok {
		if _, err := base64.RawURLEncoding.DecodeString(rest); err != nil {
			return reply{}, opNotFound(id)
		}
	} else {
		o, err := s.net.ops.Get(id)
		if err != nil {
			if cloud.IsNotFound(err) {
				return reply{}, opNotFound(id)
			}
			return reply{}, err
		}
		start = o.Start
		w, err := s.netWorld(q.sub)
		if err != nil {
			return reply{}, err
		}
		r, ok := w.get(o.Kind, o.Key)
		switch {
		case !ok:
			status, opErr = "Canceled", &opError{Code: "Canceled", Message: "The resource was deleted while the operation was in progress."}
		case s.now().Before(r.ReadyAt):
			status = "InProgress"
		}
	}
	return s.operationReply(q, "Microsoft.Network", loc, id, status, start, opErr, asResult)
}

// toMap turns a struct into JSON's map form.
func toMap(v any) map[string]any {
	data, _ := json.Marshal(v)
	m := map[string]any{}
	_ = json.Unmarshal(data, &m)
	return m
}

func subResource(id string) map[string]string { return map[string]string{"id": id} }
