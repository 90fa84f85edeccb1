package cloudsim

import (
	"encoding/json"

	"github.com/gpufleet/terraform-provider-gpufleet/internal/cloud"
)

// Metadata objects are a front end's own records of what the engine does
// not model (an EKS cluster's request token, a GKE operation, …): one
// auxiliary object per record, its JSON in Attrs["json"]. GetMeta and
// PutMeta go through the engine's rate limits and faults as Get<Kind>,
// Delete<Kind> and Create<Kind>, like every other object call.

// GetMeta decodes the metadata object (cl, kind, name) into v; false when
// there is none, or it cannot be read or decoded.
func GetMeta[T any](e *Engine, cl, kind, name string, v *T) bool {
	o, err := e.GetObject(cl, kind, name)
	if err != nil {
		return false
	}
	return json.Unmarshal([]byte(o.Attrs["json"]), v) == nil
}

// PutMeta replaces the metadata object (cl, kind, name) with v. An error
// is the engine's (a fault, a rate limit, a failure to persist): the
// record may then be gone, and the caller must answer with it rather than
// carry on as if it were kept.
func PutMeta[T any](e *Engine, cl, kind, name string, v T) error {
	data, err := json.Marshal(v)
	if err != nil {
		return err
	}
	if err := e.DeleteObject(cl, kind, name); err != nil && !cloud.IsNotFound(err) {
		return err
	}
	_, err = e.PutObject(cl, kind, name, map[string]string{"json": string(data)})
	return err
}

// DeleteMeta removes the metadata object (cl, kind, name); one that is not
// there is no error, any other failure is the engine's.
func DeleteMeta(e *Engine, cl, kind, name string) error {
	if err := e.DeleteObject(cl, kind, name); err != nil && !cloud.IsNotFound(err) {
		return err
	}
	return nil
}
