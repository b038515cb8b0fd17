package cluster

import (
	"context"
	"io"
	"log"
	"net"
	"sync"
)

// ServeGateway forwards TCP connections from a loopback address on the host to an address inside
// the cluster's namespace: the host's only way in (the API server; everything else is reached
// through it, e.g. its Service proxy).
func ServeGateway(listen, target string) error {
	listener, err := net.Listen("tcp", listen)
	if err != nil {
		return err
	}
	log.Printf("gateway %s -> %s (namespace %s)", listen, target, Namespace)
	for {
		client, err := listener.Accept()
		if err != nil {
			return err
		}
		go func() {
			defer client.Close()
			server, err := DialInNamespace(context.Background(), "tcp", target)
			if err != nil {
				log.Printf("dial %s: %v", target, err)
				return
			}
			defer server.Close()
			pipe(client, server)
		}()
	}
}

// pipe copies both ways until either side closes.
func pipe(a, b net.Conn) {
	var wg sync.WaitGroup
	copyHalf := func(dst, src net.Conn) {
		defer wg.Done()
		_, _ = io.Copy(dst, src)
		if tcp, ok := dst.(*net.TCPConn); ok {
			_ = tcp.CloseWrite()
		}
	}
	wg.Add(2)
	go copyHalf(a, b)
	go copyHalf(b, a)
	wg.Wait()
}
