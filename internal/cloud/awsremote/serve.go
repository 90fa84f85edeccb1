package awsremote

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"sync"

	"google.golang.org/grpc"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"github.com/gpufleet/terraform-provider-gpufleet/internal/cloud/awsconfig"
	"github.com/gpufleet/terraform-provider-gpufleet/internal/helperbin"
)

// Implementation is what the helper serves; it links the AWS SDK, this
// package does not.
type Implementation struct {
	// Backend builds the EKS backend of settings s (called once per
	// distinct settings; an error is not kept, the next call tries again).
	Backend func(ctx context.Context, s awsconfig.Settings) (Full, error)
	// Sources builds the AWS live sources of a configuration.
	Sources SourcesFunc
}

// Serve is gpufleet-aws serve: it reads the provider's greeting on stdin,
// serves impl on a unix socket in a private directory, answers where on
// stdout, and serves until stdin ends (the provider stopped it or
// exited); then in-flight calls are cancelled and the directory removed.
// Interrupts are the provider's to handle (it cancels its calls), so they
// are ignored.
func Serve(stdin io.Reader, stdout io.Writer, impl Implementation) error {
	signal.Ignore(os.Interrupt)
	var h hello
	var stop func()
	wait, err := helperbin.ServeRequest(stdin, stdout, &h, func() any {
		if h.Protocol != ProtocolVersion {
			return helloReply{Protocol: ProtocolVersion, Error: fmt.Sprintf("this %s speaks protocol %d, the provider %d: install the %s of the provider's own release next to the provider binary",
				HelperName, ProtocolVersion, h.Protocol, HelperName)}
		}
		socket, s, err := Listen(impl)
		if err != nil {
			return helloReply{Protocol: ProtocolVersion, Error: err.Error()}
		}
		stop = s
		return helloReply{Protocol: ProtocolVersion, Socket: socket}
	})
	if err != nil {
		return err
	}
	if stop == nil {
		return errors.New("refused the provider's greeting")
	}
	defer stop()
	wait()
	return nil
}

// Listen serves impl on a unix socket in a new directory only this user
// can enter, until stop (which cancels calls in flight and removes the
// directory). Serve uses it; tests serve in process with it.
func Listen(impl Implementation) (socket string, stop func(), err error) {
	dir, err := os.MkdirTemp("", HelperName+"-")
	if err != nil {
		return "", nil, err
	}
	socket = filepath.Join(dir, "s")
	l, err := net.Listen("unix", socket)
	if err != nil {
		_ = os.RemoveAll(dir)
		return "", nil, err
	}
	srv := grpc.NewServer(grpc.MaxRecvMsgSize(maxMessage), grpc.MaxSendMsgSize(maxMessage))
	srv.RegisterService(&serviceDesc, &server{impl: impl, backends: map[string]Full{}})
	done := make(chan struct{})
	go func() {
		_ = srv.Serve(l)
		close(done)
	}()
	return socket, func() {
		srv.Stop()
		<-done
		_ = os.RemoveAll(dir)
	}, nil
}

// serviceDesc is the one method, Call, without generated code.
var serviceDesc = grpc.ServiceDesc{
	ServiceName: serviceName,
	HandlerType: (*any)(nil),
	Methods: []grpc.MethodDesc{{
		MethodName: "Call",
		Handler: func(srv any, ctx context.Context, dec func(any) error, _ grpc.UnaryServerInterceptor) (any, error) {
			in := new(wrapperspb.BytesValue)
			if err := dec(in); err != nil {
				return nil, err
			}
			return srv.(*server).call(ctx, in.Value), nil
		},
	}},
}

// server runs the calls: one backend per distinct settings.
type server struct {
	impl     Implementation
	mu       sync.Mutex
	backends map[string]Full
}

// backend is the backend of settings target, built on first use.
func (s *server) backend(ctx context.Context, target json.RawMessage) (Full, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if b, ok := s.backends[string(target)]; ok {
		return b, nil
	}
	var set awsconfig.Settings
	if err := json.Unmarshal(target, &set); err != nil {
		return nil, err
	}
	b, err := s.impl.Backend(ctx, set)
	if err != nil {
		return nil, err
	}
	s.backends[string(target)] = b
	return b, nil
}

// call runs one request and encodes its answer.
func (s *server) call(ctx context.Context, raw []byte) *wrapperspb.BytesValue {
	result, err := s.run(ctx, raw)
	var resp response
	if err != nil {
		resp.Error = encodeError(err)
	} else if resp.Result, err = json.Marshal(result); err != nil {
		resp = response{Error: encodeError(err)}
	}
	b, err := json.Marshal(resp)
	if err != nil { // cannot happen: plain data
		b, _ = json.Marshal(response{Error: &wireError{Text: err.Error()}})
	}
	return wrapperspb.Bytes(b)
}

func (s *server) run(ctx context.Context, raw []byte) (any, error) {
	var r request
	if err := json.Unmarshal(raw, &r); err != nil {
		return nil, fmt.Errorf("%s: unreadable request: %w", HelperName, err)
	}
	if m, ok := backendMethods[r.Method]; ok {
		b, err := s.backend(ctx, r.Target)
		if err != nil {
			return nil, err
		}
		return m(ctx, b, r.Args)
	}
	if m, ok := sourceMethods[r.Method]; ok {
		return m(ctx, s.impl.Sources, r.Target, r.Args)
	}
	return nil, fmt.Errorf("%s has no method %q: install the %s of the provider's own release", HelperName, r.Method, HelperName)
}
