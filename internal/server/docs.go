package server

import (
	"html/template"
	"net/http"
	"slices"
	"sort"
	"strings"

	"github.com/danielgtaylor/huma/v2"
)

// docsRoutes serves a self-contained API reference rendered from the OpenAPI
// document: no scripts, no CDN, so it works on an air-gapped installation.
func (s *Server) docsRoutes() {
	s.mux.HandleFunc("GET /api/v1/docs", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Header().Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'")
		if err := docsPage.Execute(w, buildDocs(s.api.OpenAPI())); err != nil {
			s.log.Error("render API docs", "err", err)
		}
	})
}

type docOp struct {
	Method, Path, Summary, Description, ID string
	Params                                 []docParam
	Body                                   string
	Responses                              []string
}

type docParam struct{ Name, In, Type, Doc string }

type docSchema struct {
	Name   string
	Fields []docField
}

type docField struct {
	Name, Type, Doc string
	Required        bool
}

type docTag struct {
	Name string
	Ops  []docOp
}

type docsData struct {
	Title, Version, Description string
	Tags                        []docTag
	Schemas                     []docSchema
}

func schemaType(s *huma.Schema) string {
	if s == nil {
		return ""
	}
	if s.Ref != "" {
		return strings.TrimPrefix(s.Ref, "#/components/schemas/")
	}
	t := s.Type
	if t == "array" {
		return "[]" + schemaType(s.Items)
	}
	if len(s.Enum) > 0 {
		var vals []string
		for _, v := range s.Enum {
			if str, ok := v.(string); ok {
				vals = append(vals, str)
			}
		}
		return t + " (" + strings.Join(vals, " | ") + ")"
	}
	if s.Format != "" {
		t += " (" + s.Format + ")"
	}
	return t
}

func buildDocs(oapi *huma.OpenAPI) docsData {
	d := docsData{Title: oapi.Info.Title, Version: oapi.Info.Version, Description: oapi.Info.Description}
	byTag := map[string][]docOp{}
	for path, item := range oapi.Paths {
		for method, op := range map[string]*huma.Operation{"GET": item.Get, "POST": item.Post, "PUT": item.Put, "PATCH": item.Patch, "DELETE": item.Delete} {
			if op == nil {
				continue
			}
			o := docOp{Method: method, Path: path, Summary: op.Summary, Description: op.Description, ID: op.OperationID}
			for _, p := range op.Parameters {
				o.Params = append(o.Params, docParam{Name: p.Name, In: p.In, Type: schemaType(p.Schema), Doc: p.Description})
			}
			if op.RequestBody != nil {
				if mt := op.RequestBody.Content["application/json"]; mt != nil {
					o.Body = schemaType(mt.Schema)
				}
			}
			for code := range op.Responses {
				o.Responses = append(o.Responses, code)
			}
			sort.Strings(o.Responses)
			tag := "Other"
			if len(op.Tags) > 0 {
				tag = op.Tags[0]
			}
			byTag[tag] = append(byTag[tag], o)
		}
	}
	for name, ops := range byTag {
		slices.SortFunc(ops, func(a, b docOp) int {
			if c := strings.Compare(a.Path, b.Path); c != 0 {
				return c
			}
			return strings.Compare(a.Method, b.Method)
		})
		d.Tags = append(d.Tags, docTag{Name: name, Ops: ops})
	}
	slices.SortFunc(d.Tags, func(a, b docTag) int { return strings.Compare(a.Name, b.Name) })
	for name, sch := range oapi.Components.Schemas.Map() {
		ds := docSchema{Name: name}
		for fname, f := range sch.Properties {
			ds.Fields = append(ds.Fields, docField{Name: fname, Type: schemaType(f), Doc: f.Description, Required: slices.Contains(sch.Required, fname)})
		}
		slices.SortFunc(ds.Fields, func(a, b docField) int { return strings.Compare(a.Name, b.Name) })
		d.Schemas = append(d.Schemas, ds)
	}
	slices.SortFunc(d.Schemas, func(a, b docSchema) int { return strings.Compare(a.Name, b.Name) })
	return d
}

var docsPage = template.Must(template.New("docs").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{.Title}} reference</title>
<style>
body{font:15px/1.5 system-ui,sans-serif;max-width:70rem;margin:2rem auto;padding:0 1rem;color:#1a1a1a}
code,pre{font-family:ui-monospace,monospace}h2{border-bottom:1px solid #ccc;margin-top:2.5rem}
.op{border:1px solid #ddd;border-radius:6px;margin:1rem 0;padding:.5rem 1rem}
.m{display:inline-block;min-width:4.5rem;font-weight:700}.GET{color:#05668d}.POST{color:#2a7a2a}.PATCH{color:#9a6700}.DELETE{color:#b00020}
table{border-collapse:collapse;margin:.5rem 0}td,th{border:1px solid #ddd;padding:.2rem .5rem;text-align:left;vertical-align:top}
nav a{margin-right:1rem}
</style></head><body>
<h1>{{.Title}} <small>v{{.Version}}</small></h1>
<p>{{.Description}} The machine-readable document is <a href="/api/v1/openapi.json">/api/v1/openapi.json</a> (OpenAPI 3.1).
Authenticate with <code>Authorization: Bearer &lt;token&gt;</code>. Lists take <code>limit</code>, <code>cursor</code> and
<code>label=key=value</code>; POSTs take an <code>Idempotency-Key</code>; PATCHes take <code>If-Match</code>.</p>
<nav>{{range .Tags}}<a href="#{{.Name}}">{{.Name}}</a>{{end}}<a href="#schemas">Schemas</a></nav>
{{range .Tags}}<h2 id="{{.Name}}">{{.Name}}</h2>
{{range .Ops}}<div class="op" id="{{.ID}}"><p><span class="m {{.Method}}">{{.Method}}</span> <code>{{.Path}}</code> — {{.Summary}}</p>
{{if .Description}}<p>{{.Description}}</p>{{end}}
{{if .Params}}<table><tr><th>Parameter</th><th>In</th><th>Type</th><th>Description</th></tr>
{{range .Params}}<tr><td><code>{{.Name}}</code></td><td>{{.In}}</td><td>{{.Type}}</td><td>{{.Doc}}</td></tr>{{end}}</table>{{end}}
{{if .Body}}<p>Body: <a href="#schema-{{.Body}}"><code>{{.Body}}</code></a></p>{{end}}
<p>Responses: {{range .Responses}}<code>{{.}}</code> {{end}}</p></div>{{end}}{{end}}
<h2 id="schemas">Schemas</h2>
{{range .Schemas}}<h3 id="schema-{{.Name}}">{{.Name}}</h3>{{if .Fields}}<table><tr><th>Field</th><th>Type</th><th>Required</th><th>Description</th></tr>
{{range .Fields}}<tr><td><code>{{.Name}}</code></td><td>{{.Type}}</td><td>{{if .Required}}yes{{end}}</td><td>{{.Doc}}</td></tr>{{end}}</table>{{end}}{{end}}
</body></html>
`))
