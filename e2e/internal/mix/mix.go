// Package mix holds the requests the tests send the greeter, each with the status it must answer
// (README, "The service in one table"; no credentials are sent).
package mix

import "net/http"

// Request is one kind of request and the status it must get.
type Request struct {
	Method, Path string
	Status       int
}

// Routes is one request of every route the SLOs and the canary analysis count.
var Routes = []Request{
	{http.MethodGet, "/", http.StatusOK},
	{http.MethodPost, "/visits", http.StatusOK},
	{http.MethodGet, "/visits", http.StatusOK},
	{http.MethodGet, "/version", http.StatusOK},
	{http.MethodGet, "/secret", http.StatusUnauthorized},
}

// UnknownPaths are requests no route serves (scanner traffic): the greeter answers 404 and labels
// them endpoint="UNKNOWN", which neither the SLOs nor the analysis count.
var UnknownPaths = []Request{
	{http.MethodGet, "/no-such-route", http.StatusNotFound},
	{http.MethodGet, "/wp-login.php", http.StatusNotFound},
	{http.MethodGet, "/.env", http.StatusNotFound},
	{http.MethodPost, "/xmlrpc.php", http.StatusNotFound},
}
