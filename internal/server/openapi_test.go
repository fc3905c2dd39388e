package server

import (
	"encoding/json"
	"net/http"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pb33f/libopenapi"
	"github.com/pb33f/libopenapi-validator/schema_validation"
)

// TestOpenAPIDocument checks the served document is valid OpenAPI 3.1, that
// every operation is documented for a client generator (ID, summary, tag),
// and that the local reference page lists every operation.
func TestOpenAPIDocument(t *testing.T) {
	e := newEnv(t, filepath.Join(t.TempDir(), "s.db"), Config{})
	res := e.do("GET", "/api/v1/openapi.json", "", nil).must(t, http.StatusOK)

	var head struct {
		OpenAPI string                                `json:"openapi"`
		Paths   map[string]map[string]json.RawMessage `json:"paths"`
	}
	res.decode(t, &head)
	if head.OpenAPI != "3.1.0" {
		t.Fatalf("openapi version %q, want 3.1.0", head.OpenAPI)
	}
	doc, err := libopenapi.NewDocument(res.Body)
	if err != nil {
		t.Fatalf("parse: %v", err)
	}
	if ok, errs := schema_validation.ValidateOpenAPIDocument(doc); !ok {
		for _, e := range errs {
			t.Errorf("invalid OpenAPI 3.1: %s: %s", e.Message, e.Reason)
			for _, se := range e.SchemaValidationErrors {
				t.Errorf("  %s: %s", se.FieldPath, se.Reason)
			}
		}
	}

	page := string(e.do("GET", "/api/v1/docs", "", nil).must(t, http.StatusOK).Body)
	ops := 0
	for path, item := range head.Paths {
		if !strings.HasPrefix(path, "/api/v1/") {
			t.Errorf("path %s outside /api/v1", path)
		}
		for method, raw := range item {
			var op struct {
				OperationID string   `json:"operationId"`
				Summary     string   `json:"summary"`
				Tags        []string `json:"tags"`
			}
			if err := json.Unmarshal(raw, &op); err != nil {
				continue // path-level parameters, not an operation
			}
			ops++
			if op.OperationID == "" || op.Summary == "" || len(op.Tags) == 0 {
				t.Errorf("%s %s: operationId %q, summary %q, tags %v: all are needed", strings.ToUpper(method), path, op.OperationID, op.Summary, op.Tags)
			}
			if !strings.Contains(page, `id="`+op.OperationID+`"`) {
				t.Errorf("reference page does not list %s", op.OperationID)
			}
		}
	}
	if ops < 40 {
		t.Errorf("only %d operations documented", ops)
	}
}
