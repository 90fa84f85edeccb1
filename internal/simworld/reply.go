package simworld

import (
	"encoding/json"
	"errors"
	"io"
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

// WriteReply writes what a helper answers a Helper Starter: w, or err
// when the world could not be served (a StateError stays one).
func WriteReply(out io.Writer, w *World, err error) error {
	r := reply{World: w}
	if err != nil {
		r = reply{Error: err.Error()}
		var se *StateError
		if errors.As(err, &se) {
			r.StatePath, r.StateCause = se.Path, se.Err.Error()
		}
	}
	b, err := json.Marshal(r)
	if err != nil {
		return err
	}
	_, err = out.Write(append(b, '\n'))
	return err
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
