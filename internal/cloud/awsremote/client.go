package awsremote

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"github.com/gpufleet/terraform-provider-gpufleet/internal/cloud"
	"github.com/gpufleet/terraform-provider-gpufleet/internal/helperbin"
)

// ErrNoHelper says why the provider cannot reach AWS.
var ErrNoHelper = errors.New("the AWS backend and the AWS live sources run in " + HelperName +
	", which is neither next to the provider binary nor on PATH: it ships in the provider's release archive next to the provider; " +
	"build it with make build (bin/), or go install ./cmd/gpufleet/...")

// startTimeout bounds how long the helper may take to serve.
const startTimeout = time.Minute

// Client reaches one gpufleet-aws helper, started on the first call and
// again on the first call after it died. Its methods are safe for
// concurrent use.
type Client struct {
	// Bin is the helper binary; when empty, HelperName next to the
	// running executable or on PATH.
	Bin string
	// Socket, when set, is a helper already serving there (Listen); no
	// process is started.
	Socket string

	mu   sync.Mutex
	conn *grpc.ClientConn
	proc *helperbin.Process
	// dir is the helper's socket directory, which a helper that was
	// killed leaves behind (stop removes it).
	dir string
}

// Shared is the client of the provider process: one helper serves all
// its AWS backends and sources.
var Shared = &Client{}

// Close stops the helper (if this client started one) and drops the
// connection; a later call starts another.
func (c *Client) Close() {
	c.mu.Lock()
	conn, proc, dir := c.conn, c.proc, c.dir
	c.conn, c.proc, c.dir = nil, nil, ""
	c.mu.Unlock()
	if conn != nil {
		_ = conn.Close()
	}
	stop(proc, dir)
}

// stop stops a helper this client started and removes its socket
// directory, which a helper that was killed could not.
func stop(proc *helperbin.Process, dir string) {
	if proc == nil {
		return
	}
	proc.Stop()
	if dir != "" {
		_ = os.RemoveAll(dir)
	}
}

// Pid is the helper's process ID, 0 when none is running (tests).
func (c *Client) Pid() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.proc == nil {
		return 0
	}
	return c.proc.Pid()
}

// connect is the connection to a serving helper, starting one when
// there is none (or the last one has exited).
func (c *Client) connect(ctx context.Context) (*grpc.ClientConn, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.conn != nil {
		if c.proc == nil {
			return c.conn, nil
		}
		if done, _ := c.proc.Exited(); !done {
			return c.conn, nil
		}
		_ = c.conn.Close()
		stop(c.proc, c.dir) // it has exited: at once
		c.conn, c.proc, c.dir = nil, nil, ""
	}
	socket := c.Socket
	var proc *helperbin.Process
	if socket == "" {
		bin := c.Bin
		if bin == "" {
			p, ok := helperbin.Find(HelperName)
			if !ok {
				return nil, ErrNoHelper
			}
			bin = p
		}
		p, line, err := helperbin.Start(ctx, bin, []string{"serve"}, hello{Protocol: ProtocolVersion}, startTimeout)
		if err != nil {
			if ctx.Err() != nil {
				return nil, ctx.Err()
			}
			return nil, fmt.Errorf("aws: %w", err)
		}
		var r helloReply
		switch err := json.Unmarshal(line, &r); {
		case err != nil:
			p.Stop()
			return nil, fmt.Errorf("aws: %s answered %q, not a %s greeting: %v", bin, line, HelperName, err)
		case r.Protocol != ProtocolVersion:
			p.Stop()
			return nil, fmt.Errorf("aws: %s speaks protocol %d, this provider %d: install the %s of the provider's own release next to the provider binary", bin, r.Protocol, ProtocolVersion, HelperName)
		case r.Error != "":
			p.Stop()
			return nil, fmt.Errorf("aws: %s: %s", bin, r.Error)
		}
		socket, proc = r.Socket, p
	}
	dir := ""
	if proc != nil && strings.HasPrefix(filepath.Base(filepath.Dir(socket)), HelperName+"-") {
		dir = filepath.Dir(socket)
	}
	conn, err := grpc.NewClient("unix://"+socket, grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithDefaultCallOptions(grpc.MaxCallRecvMsgSize(maxMessage), grpc.MaxCallSendMsgSize(maxMessage)))
	if err != nil {
		if proc != nil {
			proc.Stop()
		}
		return nil, fmt.Errorf("aws: connecting to %s: %w", HelperName, err)
	}
	c.conn, c.proc, c.dir = conn, proc, dir
	return conn, nil
}

// drop forgets conn after a call on it failed: the helper behind it is
// stopped (it may still run, with a broken connection) and the next call
// starts another.
func (c *Client) drop(conn *grpc.ClientConn) {
	c.mu.Lock()
	if c.conn != conn {
		c.mu.Unlock()
		return
	}
	proc, dir := c.proc, c.dir
	c.conn, c.proc, c.dir = nil, nil, ""
	c.mu.Unlock()
	_ = conn.Close()
	go stop(proc, dir)
}

// call runs method on target (a backend's settings, a source's
// configuration) with args, and reads its result into result (nil for
// none). The helper's errors come back as it classified them; a helper
// that cannot be reached is a transient error (retried, and the next
// attempt starts a new helper); ctx's end is ctx's error.
func (c *Client) call(ctx context.Context, method string, target json.RawMessage, args, result any) error {
	a, err := json.Marshal(args)
	if err != nil {
		return err
	}
	req, err := json.Marshal(request{Method: method, Target: target, Args: a})
	if err != nil {
		return err
	}
	conn, err := c.connect(ctx)
	if err != nil {
		return err
	}
	out := new(wrapperspb.BytesValue)
	if err := conn.Invoke(ctx, callMethod, wrapperspb.Bytes(req), out); err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		c.drop(conn)
		return cloud.Transient("aws", method, "HelperUnavailable", "%s did not answer: %s", HelperName, status.Convert(err).Message())
	}
	var resp response
	if err := json.Unmarshal(out.Value, &resp); err != nil {
		return fmt.Errorf("aws %s: unreadable answer from %s: %w", method, HelperName, err)
	}
	if resp.Error != nil {
		return resp.Error.decode()
	}
	if result == nil {
		return nil
	}
	return json.Unmarshal(resp.Result, result)
}
