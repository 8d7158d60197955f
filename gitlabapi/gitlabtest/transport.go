package gitlabtest

import (
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"syscall"
)

// Transport serves the fake in the calling goroutine, without a listener,
// for a client inside a testing/synctest bubble: there every request then
// takes no time on the bubble's clock, and nothing is left running when
// the bubble ends. Use it with NewHandler and SetBaseURL. A
// FaultConnectionReset fails the request as a reset connection does.
func (s *Server) Transport() http.RoundTripper { return inProcess{s} }

type inProcess struct{ s *Server }

func (t inProcess) RoundTrip(req *http.Request) (resp *http.Response, err error) {
	w := httptest.NewRecorder()
	defer func() {
		// FaultConnectionReset aborts the handler once it cannot hijack a
		// connection; a client sees a reset.
		if r := recover(); r != nil {
			if r != http.ErrAbortHandler { //nolint:errorlint // the panic value itself
				panic(r)
			}
			resp, err = nil, &net.OpError{Op: "read", Net: "tcp", Err: os.NewSyscallError("read", syscall.ECONNRESET)}
		}
	}()
	t.s.Handler().ServeHTTP(w, req)
	resp = w.Result()
	resp.Request = req
	return resp, nil
}
