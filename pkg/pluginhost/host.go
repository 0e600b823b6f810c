// Package pluginhost starts a backend plugin binary the way Grafana does (the go-plugin
// handshake) and calls it over gRPC with the SDK's pluginv2 clients. It serves the
// integration tests and test/grafana-shim; it is test support, not part of the plugin.
package pluginhost

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"strings"
	"time"

	"github.com/grafana/grafana-plugin-sdk-go/backend"
	"github.com/grafana/grafana-plugin-sdk-go/backend/grpcplugin"
	"github.com/grafana/grafana-plugin-sdk-go/genproto/pluginv2"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
)

// Options configure Start.
type Options struct {
	// Stderr receives the plugin's log output (Grafana shows it as plugin logs); nil discards it.
	Stderr io.Writer
	// HandshakeTimeout bounds the wait for the go-plugin line; default 30 s.
	HandshakeTimeout time.Duration
	// Env is added to the plugin's environment.
	Env []string
}

// Host is a running plugin process and its gRPC connection.
type Host struct {
	cmd         *exec.Cmd
	conn        *grpc.ClientConn
	Network     string // "unix" or "tcp"
	Addr        string
	Data        pluginv2.DataClient
	Diagnostics pluginv2.DiagnosticsClient
	Resource    pluginv2.ResourceClient
	exited      chan error
}

// HandshakeEnv is the environment Grafana (through go-plugin) gives a backend plugin.
func HandshakeEnv() []string {
	return []string{
		grpcplugin.MagicCookieKey + "=" + grpcplugin.MagicCookieValue,
		fmt.Sprintf("PLUGIN_PROTOCOL_VERSIONS=%d", grpcplugin.ProtocolVersion),
		"PLUGIN_MIN_PORT=10000",
		"PLUGIN_MAX_PORT=25000",
	}
}

// ParseHandshake parses go-plugin's "CORE|APP|NETWORK|ADDR|PROTOCOL[|CERT...]" line.
func ParseHandshake(line string) (network, addr string, err error) {
	parts := strings.Split(strings.TrimSpace(line), "|")
	if len(parts) < 5 {
		return "", "", fmt.Errorf("plugin handshake line %q: want CORE|APP|NETWORK|ADDR|PROTOCOL", line)
	}
	if parts[0] != "1" {
		return "", "", fmt.Errorf("plugin handshake line %q: core protocol %s, want 1", line, parts[0])
	}
	if parts[1] != fmt.Sprint(grpcplugin.ProtocolVersion) {
		return "", "", fmt.Errorf("plugin handshake line %q: plugin protocol %s, want %d", line, parts[1], grpcplugin.ProtocolVersion)
	}
	if parts[2] != "unix" && parts[2] != "tcp" {
		return "", "", fmt.Errorf("plugin handshake line %q: network %s is neither unix nor tcp", line, parts[2])
	}
	if parts[4] != "grpc" {
		return "", "", fmt.Errorf("plugin handshake line %q: protocol %s, want grpc", line, parts[4])
	}
	return parts[2], parts[3], nil
}

// Start launches binary and connects to it.
func Start(ctx context.Context, binary string, opts Options) (*Host, error) {
	if _, err := os.Stat(binary); err != nil {
		return nil, fmt.Errorf("plugin binary: %w (build it with scripts/build-backend.sh)", err)
	}
	if opts.HandshakeTimeout <= 0 {
		opts.HandshakeTimeout = 30 * time.Second
	}
	cmd := exec.Command(binary)
	cmd.Env = append(append(os.Environ(), HandshakeEnv()...), opts.Env...)
	if opts.Stderr != nil {
		cmd.Stderr = opts.Stderr
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start plugin %s: %w", binary, err)
	}
	h := &Host{cmd: cmd, exited: make(chan error, 1)}
	lineCh := make(chan string, 1)
	go func() {
		r := bufio.NewReader(stdout)
		line, _ := r.ReadString('\n')
		lineCh <- line
		_, _ = io.Copy(io.Discard, r) // keep draining so the plugin never blocks on stdout
	}()
	go func() { h.exited <- cmd.Wait() }()

	var line string
	select {
	case line = <-lineCh:
	case err := <-h.exited:
		return nil, fmt.Errorf("plugin %s exited before the handshake: %v", binary, err)
	case <-time.After(opts.HandshakeTimeout):
		h.kill()
		return nil, fmt.Errorf("plugin %s printed no handshake line within %s", binary, opts.HandshakeTimeout)
	case <-ctx.Done():
		h.kill()
		return nil, ctx.Err()
	}
	h.Network, h.Addr, err = ParseHandshake(line)
	if err != nil {
		h.kill()
		return nil, err
	}
	network, addr := h.Network, h.Addr
	h.conn, err = grpc.NewClient("passthrough:///"+addr,
		grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithContextDialer(func(ctx context.Context, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, network, addr)
		}),
		grpc.WithDefaultCallOptions(grpc.MaxCallRecvMsgSize(64<<20), grpc.MaxCallSendMsgSize(64<<20)),
	)
	if err != nil {
		h.kill()
		return nil, fmt.Errorf("connect to plugin at %s %s: %w", network, addr, err)
	}
	h.Data = pluginv2.NewDataClient(h.conn)
	h.Diagnostics = pluginv2.NewDiagnosticsClient(h.conn)
	h.Resource = pluginv2.NewResourceClient(h.conn)
	return h, nil
}

func (h *Host) kill() {
	if h.cmd.Process != nil {
		_ = h.cmd.Process.Kill()
	}
}

// Close stops the plugin: SIGTERM first (go-plugin plugins ignore SIGINT), then SIGKILL.
func (h *Host) Close() error {
	if h.conn != nil {
		_ = h.conn.Close()
	}
	if h.cmd.Process == nil {
		return nil
	}
	_ = h.cmd.Process.Signal(sigterm)
	select {
	case <-h.exited:
	case <-time.After(5 * time.Second):
		h.kill()
		<-h.exited
	}
	return nil
}

// Exited reports whether the plugin process has ended.
func (h *Host) Exited() bool {
	select {
	case err := <-h.exited:
		h.exited <- err
		return true
	default:
		return false
	}
}

// QueryData calls the plugin's QueryData with SDK types.
func (h *Host) QueryData(ctx context.Context, req *backend.QueryDataRequest) (*backend.QueryDataResponse, error) {
	res, err := h.Data.QueryData(ctx, backend.ToProto().QueryDataRequest(req))
	if err != nil {
		return nil, err
	}
	return backend.FromProto().QueryDataResponse(res)
}

// CheckHealth calls the plugin's CheckHealth with SDK types.
func (h *Host) CheckHealth(ctx context.Context, pc backend.PluginContext) (*backend.CheckHealthResult, error) {
	res, err := h.Diagnostics.CheckHealth(ctx, &pluginv2.CheckHealthRequest{PluginContext: backend.ToProto().PluginContext(pc)})
	if err != nil {
		return nil, err
	}
	return backend.FromProto().CheckHealthResponse(res), nil
}

// CallResource calls a resource route and gathers the streamed response.
func (h *Host) CallResource(ctx context.Context, req *backend.CallResourceRequest) (*backend.CallResourceResponse, error) {
	stream, err := h.Resource.CallResource(ctx, backend.ToProto().CallResourceRequest(req))
	if err != nil {
		return nil, err
	}
	var out *backend.CallResourceResponse
	for {
		msg, err := stream.Recv()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, err
		}
		part := backend.FromProto().CallResourceResponse(msg)
		if out == nil {
			out = part
			continue
		}
		out.Body = append(out.Body, part.Body...)
	}
	if out == nil {
		return nil, fmt.Errorf("plugin sent no resource response")
	}
	return out, nil
}

// DatasourceContext is the PluginContext Grafana sends for one datasource instance.
func DatasourceContext(pluginID, uid string, jsonData []byte, secure map[string]string, updated time.Time) backend.PluginContext {
	return backend.PluginContext{
		OrgID:    1,
		PluginID: pluginID,
		User:     &backend.User{Login: "admin", Name: "admin", Role: "Admin"},
		DataSourceInstanceSettings: &backend.DataSourceInstanceSettings{
			ID: 1, UID: uid, Type: pluginID, Name: "FlowLens", JSONData: jsonData,
			DecryptedSecureJSONData: secure, Updated: updated,
		},
	}
}
