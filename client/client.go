// Package client is the Go SDK of Sirocco's REST API (/api/v1).
//
// Every call takes a context first and returns the API's wire types from
// package api. Every answer outside 2xx comes back as an *api.Error carrying
// the stable Code the server sent, so callers match on codes, never on text:
//
//	c, err := client.New("https://cloud.example.com", client.WithToken(secret))
//	vdc, err := c.GetVDC(ctx, "acme", "prod")
//	if e, ok := errors.AsType[*api.Error](err); ok && e.Code == api.CodeNotFound { ... }
//
// Writes take optional CallOptions: IfMatch/IfVersion for optimistic
// concurrency on updates, IdempotencyKey to make a create safe to retry.
// Lists return one page (*api.List); the All* methods return iterators that
// walk every page. Long actions return an *api.Operation; WaitOperation
// follows it to the end.
//
// The SDK is public; the CLI (internal/cli) is built on it.
package client

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"iter"
	"mime"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/sirocco-cloud/sirocco/api"
	"github.com/sirocco-cloud/sirocco/internal/certs"
)

// SessionCookie is the name of the console session cookie that Login returns
// the value of.
const SessionCookie = "sirocco_session"

// DefaultUserAgent is sent unless WithUserAgent says otherwise.
const DefaultUserAgent = "sirocco-go"

// maxErrorBody bounds how much of a non-problem error body is read and quoted.
const maxErrorBody = 4 << 10

// Client calls one Sirocco API server. It is safe for concurrent use.
type Client struct {
	base        string // scheme://host[:port][/prefix], without /api/v1
	token       string
	session     string
	hc          *http.Client
	userAgent   string
	fingerprint string
}

// Option configures a Client.
type Option func(*Client)

// WithToken authenticates every request with an API token (Bearer).
func WithToken(token string) Option { return func(c *Client) { c.token = token } }

// WithSession authenticates with a console session cookie, as returned by
// Login. A token, when also set, takes precedence.
func WithSession(session string) Option { return func(c *Client) { c.session = session } }

// WithHTTPClient sends requests through hc instead of a default client. The
// long-poll of WaitOperation holds a request open for up to a minute, so a
// client-wide Timeout shorter than that breaks it; prefer contexts.
func WithHTTPClient(hc *http.Client) Option { return func(c *Client) { c.hc = hc } }

// WithFingerprint trusts exactly the server certificate whose fingerprint
// ("sha256:<hex>", as siroccod prints it) matches, instead of the system's
// certificate authorities: the way to reach a server with a self-signed
// certificate without turning verification off.
func WithFingerprint(fingerprint string) Option {
	return func(c *Client) { c.fingerprint = fingerprint }
}

// WithUserAgent sets the User-Agent header.
func WithUserAgent(ua string) Option { return func(c *Client) { c.userAgent = ua } }

// New returns a client for the server at baseURL, e.g.
// "https://cloud.example.com" (a trailing "/api/v1" is accepted too).
func New(baseURL string, opts ...Option) (*Client, error) {
	u, err := url.Parse(strings.TrimSpace(baseURL))
	if err != nil {
		return nil, fmt.Errorf("server URL %q: %w", baseURL, err)
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("server URL %q: want http(s)://host[:port]", baseURL)
	}
	u.RawQuery, u.Fragment = "", ""
	u.Path = strings.TrimSuffix(strings.TrimSuffix(u.Path, "/"), "/api/v1")
	c := &Client{base: strings.TrimSuffix(u.String(), "/"), userAgent: DefaultUserAgent}
	for _, o := range opts {
		o(c)
	}
	if err := c.init(); err != nil {
		return nil, err
	}
	return c, nil
}

func (c *Client) init() error {
	if c.hc == nil {
		c.hc = &http.Client{}
	}
	if c.fingerprint == "" {
		return nil
	}
	// Pin on a copy, so a caller's client and transport stay untouched.
	var tr *http.Transport
	switch t := c.hc.Transport.(type) {
	case nil:
		tr = http.DefaultTransport.(*http.Transport).Clone()
	case *http.Transport:
		tr = t.Clone()
	default:
		return fmt.Errorf("WithFingerprint needs an *http.Transport, the HTTP client has a %T", t)
	}
	tr.TLSClientConfig = certs.PinnedTLSConfig(c.fingerprint)
	hc := *c.hc
	hc.Transport = tr
	c.hc = &hc
	return nil
}

// With returns a copy of c with more options applied, e.g. a token minted
// after logging in.
func (c *Client) With(opts ...Option) (*Client, error) {
	cp := *c
	for _, o := range opts {
		o(&cp)
	}
	if err := cp.init(); err != nil {
		return nil, err
	}
	return &cp, nil
}

// BaseURL is the server's URL as given to New, without /api/v1.
func (c *Client) BaseURL() string { return c.base }

// CallOption adds something to one request.
type CallOption func(h http.Header)

// IfMatch makes an update fail with 412 precondition_failed unless the
// object is still at etag (the ETag of an earlier read).
func IfMatch(etag string) CallOption {
	return func(h http.Header) {
		if etag != "" {
			h.Set("If-Match", etag)
		}
	}
}

// IfVersion is IfMatch for an object's Version, as every read type shows it.
func IfVersion(version int64) CallOption { return IfMatch(ETag(version)) }

// ETag is the entity tag the server gives an object at version.
func ETag(version int64) string { return strconv.Quote(strconv.FormatInt(version, 10)) }

// IdempotencyKey makes a POST safe to retry: the server answers a repeat with
// the same key with the first answer instead of acting twice.
func IdempotencyKey(key string) CallOption {
	return func(h http.Header) {
		if key != "" {
			h.Set("Idempotency-Key", key)
		}
	}
}

// ListOptions select one page of a list. Labels are "key=value" (or "key"
// for any value) and must all match.
type ListOptions struct {
	Limit  int
	Cursor string
	Labels []string
}

func (o ListOptions) values() url.Values {
	q := url.Values{}
	if o.Limit > 0 {
		q.Set("limit", strconv.Itoa(o.Limit))
	}
	if o.Cursor != "" {
		q.Set("cursor", o.Cursor)
	}
	for _, l := range o.Labels {
		q.Add("label", l)
	}
	return q
}

// setIf adds a query parameter when its value is not empty.
func setIf(q url.Values, key, value string) {
	if value != "" {
		q.Set(key, value)
	}
}

// path joins escaped segments under /api/v1.
func path(segments ...string) string {
	var b strings.Builder
	b.WriteString("/api/v1")
	for _, s := range segments {
		b.WriteByte('/')
		b.WriteString(url.PathEscape(s))
	}
	return b.String()
}

// request is one call to the API.
type request struct {
	method string
	path   string
	query  url.Values
	body   any // JSON-encoded unless nil
	opts   []CallOption
	out    any // JSON-decoded from a 2xx body unless nil
}

// do sends r and returns the answer, with its body already read into r.out.
// Every non-2xx answer is an *api.Error.
func (c *Client) do(ctx context.Context, r request) (*http.Response, error) {
	u := c.base + r.path
	if len(r.query) > 0 {
		u += "?" + r.query.Encode()
	}
	var body io.Reader
	if r.body != nil {
		b, err := json.Marshal(r.body)
		if err != nil {
			return nil, fmt.Errorf("%s %s: encode request: %w", r.method, r.path, err)
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, r.method, u, body)
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w", r.method, r.path, err)
	}
	req.Header.Set("Accept", "application/json")
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if c.userAgent != "" {
		req.Header.Set("User-Agent", c.userAgent)
	}
	switch {
	case c.token != "":
		req.Header.Set("Authorization", "Bearer "+c.token)
	case c.session != "":
		req.AddCookie(&http.Cookie{Name: SessionCookie, Value: c.session})
	}
	for _, o := range r.opts {
		o(req.Header)
	}
	res, err := c.hc.Do(req)
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w", r.method, r.path, err)
	}
	defer res.Body.Close()
	if res.StatusCode < 200 || res.StatusCode > 299 {
		return res, decodeError(res)
	}
	if r.out == nil || res.StatusCode == http.StatusNoContent {
		_, _ = io.Copy(io.Discard, res.Body)
		return res, nil
	}
	if err := json.NewDecoder(res.Body).Decode(r.out); err != nil && !errors.Is(err, io.EOF) {
		return res, fmt.Errorf("%s %s: decode answer: %w", r.method, r.path, err)
	}
	return res, nil
}

// decodeError turns a non-2xx answer into an *api.Error: the server's problem
// document when there is one, otherwise one made from the status, so callers
// can always match on Code.
func decodeError(res *http.Response) *api.Error {
	raw, _ := io.ReadAll(io.LimitReader(res.Body, maxErrorBody))
	var e api.Error
	ct, _, _ := mime.ParseMediaType(res.Header.Get("Content-Type"))
	if (ct == "application/problem+json" || ct == "application/json") && json.Unmarshal(raw, &e) == nil && e.Code != "" {
		if e.Status == 0 {
			e.Status = res.StatusCode
		}
		return &e
	}
	detail := strings.TrimSpace(string(raw))
	if detail == "" || !utf8.ValidString(detail) || strings.HasPrefix(detail, "<") {
		detail = fmt.Sprintf("the server answered %s", res.Status)
	} else if len(detail) > 200 {
		detail = detail[:200] + "…"
	}
	return &api.Error{
		Status: res.StatusCode,
		Code:   api.CodeForStatus(res.StatusCode),
		Title:  http.StatusText(res.StatusCode),
		Detail: detail,
	}
}

// get reads one object.
func get[T any](ctx context.Context, c *Client, p string, q url.Values) (*T, error) {
	var out T
	if _, err := c.do(ctx, request{method: http.MethodGet, path: p, query: q, out: &out}); err != nil {
		return nil, err
	}
	return &out, nil
}

// send writes body with method and decodes the answer into a T.
func send[T any](ctx context.Context, c *Client, method, p string, body any, opts []CallOption) (*T, error) {
	var out T
	if _, err := c.do(ctx, request{method: method, path: p, body: body, opts: opts, out: &out}); err != nil {
		return nil, err
	}
	return &out, nil
}

// del deletes an object that goes at once (204).
func (c *Client) del(ctx context.Context, p string, opts []CallOption) error {
	_, err := c.do(ctx, request{method: http.MethodDelete, path: p, opts: opts})
	return err
}

// list reads one page.
func list[T any](ctx context.Context, c *Client, p string, q url.Values) (*api.List[T], error) {
	return get[api.List[T]](ctx, c, p, q)
}

// all walks every page from opts on, fetching each with page.
func all[T any](ctx context.Context, opts ListOptions, page func(context.Context, ListOptions) (*api.List[T], error)) iter.Seq2[T, error] {
	return func(yield func(T, error) bool) {
		for {
			l, err := page(ctx, opts)
			if err != nil {
				var zero T
				yield(zero, err)
				return
			}
			for _, it := range l.Items {
				if !yield(it, nil) {
					return
				}
			}
			if l.NextCursor == "" || l.NextCursor == opts.Cursor {
				return
			}
			opts.Cursor = l.NextCursor
		}
	}
}
