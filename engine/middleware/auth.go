package middleware

import (
	"crypto/subtle"
	"fmt"
	"net/http"
	"strings"

	"github.com/luaws/luaws/engine"
)

// UserHeader is the request header basic_auth sets to the authenticated
// user name (any such header from the client is removed first), so that
// the script's handshake and open see it in req.headers.
const UserHeader = "X-Luaws-User"

// newBasicAuth checks HTTP Basic credentials before the upgrade; a request
// without valid ones gets 401 with WWW-Authenticate.
//
// Settings: users (required: a table of name = "password"), realm
// (default "luaws").
func newBasicAuth(in *Init, env Env) (engine.Middleware, error) {
	users := in.StringMap("users")
	if len(users) == 0 && in.err == nil {
		in.fail("users", `required: a table of name = "password"`)
	}
	realm := in.String("realm", "luaws")
	challenge := http.Header{"Www-Authenticate": {fmt.Sprintf("Basic realm=%q, charset=\"UTF-8\"", realm)}}
	return engine.Middleware{HTTP: func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			r.Header.Del(UserHeader)
			user, pass, ok := r.BasicAuth()
			if !ok || !checkPassword(users, user, pass) {
				detail := "no credentials"
				if ok {
					detail = "bad credentials for user " + user
				}
				unauthorized(w, r, detail, challenge)
				return
			}
			r.Header.Set(UserHeader, user)
			next.ServeHTTP(w, r)
		})
	}}, nil
}

// checkPassword compares in constant time whatever the user.
func checkPassword(users map[string]string, user, pass string) bool {
	want, ok := users[user]
	if !ok {
		want = "\x00no such user"
	}
	return subtle.ConstantTimeCompare([]byte(pass), []byte(want)) == 1 && ok
}

// newBearer checks a bearer token before the upgrade: the Authorization
// header "Bearer TOKEN", or, when query is set, that query parameter
// (browsers cannot set headers on a WebSocket). A request without a known
// token gets 401 with WWW-Authenticate.
//
// Settings: tokens (required: an array of strings), query (a query
// parameter name, off by default), realm (default "luaws").
func newBearer(in *Init, env Env) (engine.Middleware, error) {
	tokens := in.Strings("tokens")
	if len(tokens) == 0 && in.err == nil {
		in.fail("tokens", `required: an array of accepted tokens`)
	}
	for _, t := range tokens {
		if t == "" {
			in.fail("tokens", "a token may not be empty")
		}
	}
	query := ""
	if in.Has("query") {
		query = in.String("query", "")
	}
	realm := in.String("realm", "luaws")
	missing := http.Header{"Www-Authenticate": {fmt.Sprintf("Bearer realm=%q", realm)}}
	invalid := http.Header{"Www-Authenticate": {fmt.Sprintf("Bearer realm=%q, error=\"invalid_token\"", realm)}}
	return engine.Middleware{HTTP: func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			token, found := "", false
			if auth := r.Header.Get("Authorization"); len(auth) > 7 && strings.EqualFold(auth[:7], "bearer ") {
				token, found = strings.TrimSpace(auth[7:]), true
			} else if query != "" && r.URL.Query().Has(query) {
				token, found = r.URL.Query().Get(query), true
			}
			switch {
			case !found:
				unauthorized(w, r, "no bearer token", missing)
			case !knownToken(tokens, token):
				unauthorized(w, r, "unknown bearer token", invalid)
			default:
				next.ServeHTTP(w, r)
			}
		})
	}}, nil
}

// knownToken compares token with every accepted one in constant time.
func knownToken(tokens []string, token string) bool {
	found := 0
	for _, t := range tokens {
		found |= subtle.ConstantTimeCompare([]byte(t), []byte(token))
	}
	return found == 1
}

func unauthorized(w http.ResponseWriter, r *http.Request, detail string, header http.Header) {
	engine.FailHandshake(w, r, &engine.HandshakeError{
		Reason: engine.ReasonUnauthorized, Status: http.StatusUnauthorized,
		Detail: detail, Header: header.Clone(),
	})
}
