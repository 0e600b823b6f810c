// Command gotls is the Go HTTPS server and client of the Go crypto/tls end-to-end test.
//
// Usage: gotls server CERT KEY PORT | gotls client URL...
package main

import (
	"crypto/tls"
	"fmt"
	"io"
	"net/http"
	"os"
	"time"
)

func main() {
	if len(os.Args) > 4 && os.Args[1] == "server" {
		// HTTP/1.1 only (an empty TLSNextProto turns HTTP/2 off), so the rows name plain HTTP
		srv := &http.Server{
			Addr:         "127.0.0.1:" + os.Args[4],
			TLSNextProto: map[string]func(*http.Server, *tls.Conn, http.Handler){},
			Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if r.URL.Path == "/go/ok" {
					_, _ = w.Write([]byte("ok"))
					return
				}
				w.WriteHeader(http.StatusNotFound)
			}),
		}
		fmt.Println(srv.ListenAndServeTLS(os.Args[2], os.Args[3]))
		return
	}
	client := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{
		TLSClientConfig: &tls.Config{InsecureSkipVerify: true}, // the test's self-signed certificate
		TLSNextProto:    map[string]func(string, *tls.Conn) http.RoundTripper{},
	}}
	for _, u := range os.Args[2:] {
		r, err := client.Get(u)
		if err != nil {
			fmt.Println("error", err)
			continue
		}
		_, _ = io.Copy(io.Discard, r.Body)
		_ = r.Body.Close()
		fmt.Println(r.StatusCode)
	}
}
