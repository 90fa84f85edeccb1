package simworld

import (
	"encoding/json"
	"errors"
)

// reply is the helper's one line on stdout: the World served, or why
// there is none.
type reply struct {
	World *World `json:"world,omitempty"`
	Error string `json:"error,omitempty"`
	// StatePath and StateCause are set when Error is a StateError.
	StatePath  string `json:"state_path,omitempty"`
	StateCause string `json:"state_cause,omitempty"`
}

// Reply is what a helper answers a Helper Starter (the answer of
// helperbin.ServeRequest): w, or err when the world could not be served
// (a StateError stays one).
func Reply(w *World, err error) any {
	r := reply{World: w}
	if err != nil {
		r = reply{Error: err.Error()}
		var se *StateError
		if errors.As(err, &se) {
			r.StatePath, r.StateCause = se.Path, se.Err.Error()
		}
	}
	return r
}

// readReply parses a helper's line.
func readReply(line []byte) (*World, error) {
	var r reply
	if err := json.Unmarshal(line, &r); err != nil {
		return nil, err
	}
	switch {
	case r.StatePath != "":
		return nil, &StateError{Path: r.StatePath, Err: errors.New(r.StateCause)}
	case r.Error != "":
		return nil, errors.New(r.Error)
	case r.World == nil || r.World.Endpoints.AWS == "":
		return nil, errors.New("no world in the helper's answer")
	}
	return r.World, nil
}
